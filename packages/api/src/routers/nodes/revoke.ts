import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { revokeNode } from '../../services/nodes/admin.ts';

/** A lost or compromised Mac: its secret stops working, its socket closes, its open jobs are cancelled. */
export const revokeNodeProcedure = adminProcedure.input(z.object({ nodeId: z.uuid() })).mutation(({ ctx, input }) => revokeNode(ctx.deps, ctx.actor, input));
