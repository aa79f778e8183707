import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { listJobs } from '../../services/sync/jobs.ts';
import { syncJobStates } from '../../services/sync/lifecycle.ts';

export const listJobsInput = z.object({
  state: z.enum([...syncJobStates, 'unfinished']).optional(),
  nodeId: z.string().uuid('Choose a node').optional(),
  digest: z.string().trim().max(71).optional(),
  cursor: z.string().max(100).nullish(),
  limit: z.number().int().min(1).max(200).default(50),
});

/** Sync jobs, newest first; pass `nextCursor` back as `cursor` for the next page. */
export const listJobsProcedure = authedProcedure
  .input(listJobsInput)
  .query(({ ctx, input }) => listJobs(ctx.deps, { ...input, digest: input.digest || undefined, cursor: input.cursor ?? undefined }));
