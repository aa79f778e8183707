import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { decommissionNode } from '../../services/nodes/decommission.ts';

/** A Mac retired from the fleet: revoked, out of the counts and lists, its cache purged if asked. */
export const decommissionNodeProcedure = adminProcedure
  .input(z.object({ nodeId: z.uuid(), purgeCache: z.boolean() }))
  .mutation(({ ctx, input }) => decommissionNode(ctx.deps, ctx.actor, input));
