import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { checkRegistry } from '../../services/registries/registries.ts';

export const checkRegistryProcedure = adminProcedure.input(z.object({ registryId: z.string().uuid() })).mutation(({ ctx, input }) => checkRegistry(ctx.deps, input.registryId));
