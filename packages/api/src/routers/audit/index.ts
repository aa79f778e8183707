import { router } from '../../trpc.ts';
import { listAuditProcedure } from './list.ts';
import { auditTargetTypesProcedure } from './target-types.ts';

/** The audit log: admins only. */
export const auditRouter = router({ list: listAuditProcedure, targetTypes: auditTargetTypesProcedure });
