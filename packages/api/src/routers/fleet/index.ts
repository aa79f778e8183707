import { authedProcedure, router } from '../../trpc.ts';
import { fleetOverview } from '../../services/fleet.ts';

export const fleetRouter = router({
  overview: authedProcedure.query(({ ctx }) => fleetOverview(ctx.deps)),
});
