import { authedProcedure, router } from '../../trpc.ts';
import { listNodes } from '../../services/fleet.ts';
import { getNodeProcedure } from './get.ts';

export const nodesRouter = router({
  list: authedProcedure.query(({ ctx }) => listNodes(ctx.deps)),
  get: getNodeProcedure,
});
