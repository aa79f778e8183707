import { authedProcedure } from '../../trpc.ts';
import { listProjects } from '../../services/fleet.ts';

export const listProjectsProcedure = authedProcedure.query(({ ctx }) => listProjects(ctx.deps));
