import { authedProcedure, router } from '../../trpc.ts';
import { listNodes } from '../../services/fleet.ts';

export const nodesRouter = router({
  list: authedProcedure.query(({ ctx }) => listNodes(ctx.deps)),
});
