import { adminProcedure } from '../../trpc.ts';
import { auditTargetTypes } from '../../services/audit/log.ts';

/** The target types the log holds, for the filter's choices. */
export const auditTargetTypesProcedure = adminProcedure.query(({ ctx }) => auditTargetTypes(ctx.deps));
