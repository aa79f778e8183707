import { authedProcedure, router } from '../../trpc.ts';
import { listNodes } from '../../services/fleet/overview.ts';
import { allowNodeReplacementProcedure } from './allow-replace.ts';
import { clearNodeConditionsProcedure } from './clear-conditions.ts';
import { getNodeProcedure } from './get.ts';
import { nodePageProcedure } from './page.ts';
import { revokeNodeProcedure } from './revoke.ts';
import { rotateNodeSecretProcedure } from './rotate-secret.ts';
import { searchNodesProcedure } from './search.ts';

export const nodesRouter = router({
  list: authedProcedure.query(({ ctx }) => listNodes(ctx.deps)),
  get: getNodeProcedure,
  revoke: revokeNodeProcedure,
  rotateSecret: rotateNodeSecretProcedure,
  allowReplace: allowNodeReplacementProcedure,
  clearConditions: clearNodeConditionsProcedure,
  page: nodePageProcedure,
  search: searchNodesProcedure,
});
