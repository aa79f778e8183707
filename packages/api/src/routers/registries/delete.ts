import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { deleteRegistry } from '../../services/registries/lifecycle.ts';

/** Refused while pins use the registry, naming their projects. */
export const deleteRegistryProcedure = adminProcedure.input(z.object({ id: z.uuid({ error: 'No such registry' }) })).mutation(({ ctx, input }) => deleteRegistry(ctx.deps, ctx.actor, input));
