import { router } from '../../trpc.ts';
import { allowNodeReplacementProcedure } from './allow-replace.ts';
import { clearNodeConditionsProcedure } from './clear-conditions.ts';
import { decommissionNodeProcedure } from './decommission.ts';
import { getNodeProcedure } from './get.ts';
import { nodePageProcedure } from './page.ts';
import { revokeNodeProcedure } from './revoke.ts';
import { rotateNodeSecretProcedure } from './rotate-secret.ts';
import { searchNodesProcedure } from './search.ts';

export const nodesRouter = router({
  get: getNodeProcedure,
  revoke: revokeNodeProcedure,
  rotateSecret: rotateNodeSecretProcedure,
  allowReplace: allowNodeReplacementProcedure,
  clearConditions: clearNodeConditionsProcedure,
  page: nodePageProcedure,
  search: searchNodesProcedure,
  decommission: decommissionNodeProcedure,
});
