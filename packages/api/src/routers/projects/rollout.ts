import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { projectRollout } from '../../services/fleet/overview.ts';

/** Per node serving the project: where each pin stands (in sync, syncing with progress, failed...). */
export const projectRolloutProcedure = authedProcedure
  .input(z.object({ projectId: z.string().uuid() }))
  .query(({ ctx, input }) => projectRollout(ctx.deps, input.projectId));
