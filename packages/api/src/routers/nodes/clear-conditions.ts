import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { clearNodeConditions } from '../../services/nodes/conditions.ts';

/** Clears what the control plane raised on a node (bad data sent to peers) once an admin has looked into it. */
export const clearNodeConditionsProcedure = adminProcedure
  .input(z.object({ nodeId: z.uuid() }))
  .mutation(({ ctx, input }) => clearNodeConditions(ctx.deps, ctx.actor, input));
