import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { createApiToken } from '../../services/access/api-tokens.ts';
import { optionalCount } from './input.ts';

export const createApiTokenInput = z.object({
  name: z.string().trim().min(1, 'Give the token a name, e.g. "ci-runner"').max(100),
  /** Omitted: the deployment's default (90 days). null ("never") is refused: every token expires. */
  expiresInDays: optionalCount('Expiry', 3650),
});

/**
 * Anyone signed in, for themselves: the token acts as its owner. Returned once. Called with an
 * API token, the new token can't outlive the calling one (same user, same rights, no later expiry).
 */
export const createApiTokenProcedure = authedProcedure.input(createApiTokenInput).mutation(({ ctx, input }) =>
  createApiToken(ctx.deps, ctx.actor, {
    userId: ctx.user.id,
    name: input.name,
    expiresInDays: input.expiresInDays,
    policy: ctx.authPolicy?.apiTokenExpiry,
    notAfter: ctx.apiToken ? (ctx.apiToken.expiresAt ?? undefined) : undefined,
  }),
);
