import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { setRegistryImmutableTags } from '../../services/registries/registries.ts';

export const setImmutableTagsInput = z.object({ id: z.uuid({ error: 'No such registry' }), immutableTags: z.boolean() });

/** Turns immutable tags on or off; audited with before and after, announced as registry.updated. */
export const setImmutableTagsProcedure = adminProcedure.input(setImmutableTagsInput).mutation(({ ctx, input }) => setRegistryImmutableTags(ctx.deps, ctx.actor, input));
