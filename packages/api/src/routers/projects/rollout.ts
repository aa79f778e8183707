import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { projectRollout, rolloutSorts } from '../../services/fleet/overview.ts';

export const maxRolloutPage = 100;

export const projectRolloutInput = z.object({
  projectId: z.string().uuid(),
  /** Part of a node's name. */
  search: z.string().trim().max(100).optional(),
  onlyNotInSync: z.boolean().default(false),
  sort: z.enum(rolloutSorts).default('name'),
  direction: z.enum(['asc', 'desc']).default('asc'),
  offset: z.number().int().min(0).max(1_000_000).default(0),
  limit: z.number().int().min(1).max(maxRolloutPage).default(50),
});

/** A page of the nodes serving the project: where each pin stands (in sync, syncing with progress, failed...), with counts. */
export const projectRolloutProcedure = authedProcedure.input(projectRolloutInput).query(({ ctx, input }) => projectRollout(ctx.deps, input.projectId, input));
