import { adminProcedure } from '../../trpc.ts';
import { listEnrollmentTokens } from '../../services/nodes/enrollment.ts';

/** Enrollment tokens as they stand (active, expired, used up, revoked); never the token itself. */
export const listEnrollmentTokensProcedure = adminProcedure.query(({ ctx }) => listEnrollmentTokens(ctx.deps));
