// Trends change at most every half minute (the control plane's trends loop), so they live apart
// from `fleet`: a heartbeat's refresh of the fleet's queries leaves them alone.
import { z } from 'zod';
import { authedProcedure, router } from '../../trpc.ts';
import { projectTrends } from '../../services/fleet/trends.ts';

export const trendsRouter = router({
  /** A project's convergence over the last two weeks and its latest rollouts, with their durations. */
  project: authedProcedure.input(z.object({ projectId: z.string().uuid() })).query(({ ctx, input }) => projectTrends(ctx.deps, input.projectId)),
});
