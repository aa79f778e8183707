import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { rotateNodeSecret } from '../../services/nodes/admin.ts';

/** Sends the connected agent a new secret sealed to its key; the old one stops working once it reconnects. */
export const rotateNodeSecretProcedure = adminProcedure.input(z.object({ nodeId: z.uuid() })).mutation(({ ctx, input }) => rotateNodeSecret(ctx.deps, ctx.actor, input));
