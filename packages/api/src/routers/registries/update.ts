import { adminProcedure } from '../../trpc.ts';
import { updateRegistry } from '../../services/registries/lifecycle.ts';
import { registryUpdateInput } from './input.ts';

/** Renames a registry or changes its address or credentials, after checking it answers with them. */
export const updateRegistryProcedure = adminProcedure.input(registryUpdateInput).mutation(({ ctx, input }) => updateRegistry(ctx.deps, ctx.actor, input));
