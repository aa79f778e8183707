import { adminProcedure } from '../../trpc.ts';
import { createRegistry } from '../../services/registries/registries.ts';
import { registryInput } from './input.ts';

/** Connects a registry after checking it answers with these credentials. */
export const createRegistryProcedure = adminProcedure.input(registryInput).mutation(({ ctx, input }) => createRegistry(ctx.deps, ctx.actor, input));
