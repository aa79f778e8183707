import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { createApiToken } from '../../services/api-tokens.ts';
import { optionalCount } from './input.ts';

export const createApiTokenInput = z.object({
  name: z.string().trim().min(1, 'Give the token a name, e.g. "ci-runner"').max(100),
  expiresInDays: optionalCount('Expiry', 3650),
});

/** Anyone signed in, for themselves: the token acts as its owner. Returned once. */
export const createApiTokenProcedure = authedProcedure
  .input(createApiTokenInput)
  .mutation(({ ctx, input }) => createApiToken(ctx.deps, ctx.actor, { ...input, userId: ctx.user.id }));
