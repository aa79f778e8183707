import { z } from 'zod';
import { authedProcedure, router } from '../../trpc.ts';
import { fleetOverview } from '../../services/fleet/overview.ts';
import { projectTrends } from '../../services/fleet/trends.ts';

export const fleetRouter = router({
  overview: authedProcedure.query(({ ctx }) => fleetOverview(ctx.deps)),
  /** A project's convergence over the last two weeks and its latest rollouts, with their durations. */
  projectTrends: authedProcedure.input(z.object({ projectId: z.string().uuid() })).query(({ ctx, input }) => projectTrends(ctx.deps, input.projectId)),
});
