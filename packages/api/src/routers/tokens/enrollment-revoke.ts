import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { revokeEnrollmentToken } from '../../services/nodes/enrollment.ts';

/** Nodes already enrolled keep their own secrets; only new enrollments stop. */
export const revokeEnrollmentTokenProcedure = adminProcedure
  .input(z.object({ tokenId: z.uuid() }))
  .mutation(({ ctx, input }) => revokeEnrollmentToken(ctx.deps, ctx.actor, input));
