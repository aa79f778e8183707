import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { allowNodeReplacement } from '../../services/nodes/admin.ts';

/** For 24 hours, enrolling a Mac under this node's name replaces the node instead of being refused. */
export const allowNodeReplacementProcedure = adminProcedure
  .input(z.object({ nodeId: z.uuid() }))
  .mutation(({ ctx, input }) => allowNodeReplacement(ctx.deps, ctx.actor, input));
