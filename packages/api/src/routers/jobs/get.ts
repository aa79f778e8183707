import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { getJob } from '../../services/sync/jobs.ts';

export const getJobProcedure = authedProcedure.input(z.object({ jobId: z.string().uuid() })).query(({ ctx, input }) => getJob(ctx.deps, input.jobId));
