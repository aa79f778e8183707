import { z } from 'zod';
import { adminProcedure } from '../../trpc.ts';
import { retryJob } from '../../services/sync/jobs.ts';

/** Retries a failed job by reconciling its node: a fresh job is queued if the image is still wanted. */
export const retryJobProcedure = adminProcedure.input(z.object({ jobId: z.string().uuid() })).mutation(({ ctx, input }) => retryJob(ctx.deps, ctx.actor, input.jobId));
