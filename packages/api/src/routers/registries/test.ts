import { adminProcedure } from '../../trpc.ts';
import { testRegistryConnection } from '../../services/registries/registries.ts';
import { registryInput } from './input.ts';

/** Checks settings before saving them; throws with the reason when the registry won't answer. */
export const testRegistryProcedure = adminProcedure.input(registryInput).mutation(async ({ ctx, input }) => {
  await testRegistryConnection(ctx.deps, input);
  return { ok: true as const };
});
