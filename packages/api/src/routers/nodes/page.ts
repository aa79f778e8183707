import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { nodePage, nodeSortKeys, nodeStateFilters, nodeSyncFilters } from '../../services/nodes/node-page.ts';

export const nodePageInput = z.object({
  search: z.string().trim().max(100).optional(),
  label: z.string().trim().max(200).optional(),
  site: z.string().trim().max(100).optional(),
  state: z.enum(nodeStateFilters).optional(),
  sync: z.enum(nodeSyncFilters).optional(),
  condition: z.enum(['any']).optional(),
  disk: z.enum(['low']).optional(),
  sort: z.enum(nodeSortKeys).default('name'),
  direction: z.enum(['asc', 'desc']).default('asc'),
  page: z.number().int().min(1).max(100_000).default(1),
  pageSize: z.number().int().min(1).max(100).default(50),
});

/** One page of nodes: searched by name, filtered by label, site, state, sync state, conditions and low disk, sorted, with the total. */
export const nodePageProcedure = authedProcedure.input(nodePageInput).query(({ ctx, input }) => nodePage(ctx.deps, input));
