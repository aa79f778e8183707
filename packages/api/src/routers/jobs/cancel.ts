import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { cancelSyncJob } from '../../services/sync/jobs.ts';

/** Stops an unfinished job; a pin still asking for the image queues it again on the next reconcile. */
export const cancelJobProcedure = adminProcedure.input(z.object({ jobId: z.string().uuid() })).mutation(({ ctx, input }) => cancelSyncJob(ctx.deps, ctx.actor, input.jobId));
