import { authedProcedure } from '../../trpc.ts';
import { listTeams } from '../../services/access/teams.ts';

/** Teams with how many projects and members they have: anyone signed in (forms choose a team). */
export const listTeamsProcedure = authedProcedure.query(({ ctx }) => listTeams(ctx.deps));
