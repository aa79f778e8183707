import { authedProcedure, router } from '../../trpc.ts';
import { fleetOverview } from '../../services/fleet/overview.ts';

export const fleetRouter = router({
  overview: authedProcedure.query(({ ctx }) => fleetOverview(ctx.deps)),
});
