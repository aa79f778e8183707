import { authedProcedure } from '../../trpc.ts';
import { listProjects } from '../../services/fleet/overview.ts';

export const listProjectsProcedure = authedProcedure.query(({ ctx }) => listProjects(ctx.deps));
