import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { searchNodes } from '../../services/nodes/node-page.ts';

/** Node names for a search-as-you-type field: up to 20 containing the text, or the one node with `id`. */
export const searchNodesProcedure = authedProcedure
  .input(z.object({ query: z.string().max(100).optional(), id: z.uuid().optional(), limit: z.number().int().min(1).max(20).default(20) }))
  .query(({ ctx, input }) => searchNodes(ctx.deps, input));
