import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { createEnrollmentToken } from '../../services/nodes/nodes.ts';
import { parseSelector } from '../../services/projects/projects.ts';
import { optionalCount } from './input.ts';

export const createEnrollmentTokenInput = z.object({
  name: z.string().trim().min(1, 'Give the token a name, e.g. "ios-ci rack 2"').max(100),
  /** `key=value, key=value`: labels every node enrolled with this token starts with. */
  labels: z.string().max(500).default(''),
  usesLeft: optionalCount('Uses', 10_000),
  expiresInHours: optionalCount('Expiry', 24 * 365),
});

/** Returns the token once; afterwards only its hash exists. */
export const createEnrollmentTokenProcedure = adminProcedure.input(createEnrollmentTokenInput).mutation(({ ctx, input }) =>
  createEnrollmentToken(ctx.deps, ctx.actor, { ...input, labels: parseSelector(input.labels) }),
);
