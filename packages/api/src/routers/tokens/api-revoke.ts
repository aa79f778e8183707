import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { revokeApiToken } from '../../services/access/api-tokens.ts';

/** Your own tokens; admins may revoke anyone's. */
export const revokeApiTokenProcedure = authedProcedure
  .input(z.object({ tokenId: z.uuid() }))
  .mutation(({ ctx, input }) => revokeApiToken(ctx.deps, ctx.actor, { tokenId: input.tokenId, ownerId: ctx.user.role === 'admin' ? undefined : ctx.user.id }));
