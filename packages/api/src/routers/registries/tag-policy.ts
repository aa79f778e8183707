import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { registryTagPolicy } from '../../services/registries/registries.ts';

export const tagPolicyInput = z.object({
  host: z.string().trim().min(1, 'Give the registry host, e.g. registry.example.com or 127.0.0.1:5000').max(300),
});

/**
 * Whether the registry at a host keeps its tags immutable, for any signed-in user or API token.
 * `cider image push` asks REST v1's GET /api/v1/tag-policy (which calls this); CLIs from before the
 * REST API call it directly (GET /api/trpc/registries.tagPolicy?input={"json":{"host":...}}), so
 * keep the name and input shape stable. Never returns credentials.
 */
export const tagPolicyProcedure = authedProcedure.input(tagPolicyInput).query(({ ctx, input }) => registryTagPolicy(ctx.deps, input));
