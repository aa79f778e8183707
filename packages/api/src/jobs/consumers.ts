// The job catalog drives the consumers too: one typed handler per catalog entry, and one BullMQ
// worker per entry made here (never from a name typed elsewhere). Every payload is parsed with its
// catalog schema before its handler sees it: a malformed one fails that job, at once and for good,
// with a message saying what is wrong, and the worker goes on with the next.
import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { z } from 'zod';
import { jobCatalog, jobNames, type JobName, type JobPayload } from './catalog.ts';

export interface JobHandler<N extends JobName> {
  /** Jobs of this kind this process runs at once. */
  concurrency: number;
  handle(payload: JobPayload<N>, job: Job<JobPayload<N>>, token: string | undefined): Promise<unknown>;
}
export type JobHandlers = { [N in JobName]: JobHandler<N> };
export type JobConsumers = { [N in JobName]: Worker<JobPayload<N>> };

/** The payload a job carries, checked against the catalog; throws (unrecoverable) with what is wrong. */
export function parseJobPayload<N extends JobName>(name: N, job: Pick<Job, 'id' | 'data'>): JobPayload<N> {
  const parsed = jobCatalog[name].payload.safeParse(job.data);
  if (parsed.success) return parsed.data as JobPayload<N>;
  throw new UnrecoverableError(`The ${name} job ${job.id ?? ''} carries a malformed payload and was not run: ${z.prettifyError(parsed.error).slice(0, 1000)}`);
}

export function createConsumers(handlers: JobHandlers, options: { connection: () => ConnectionOptions; prefix: string }): JobConsumers {
  const consumer = <N extends JobName>(name: N): Worker<JobPayload<N>> => {
    const handler = handlers[name] as JobHandler<N>;
    return new Worker<JobPayload<N>>(name, async (job, token) => handler.handle(parseJobPayload(name, job), job, token), {
      connection: options.connection(),
      prefix: options.prefix,
      concurrency: handler.concurrency,
    });
  };
  return Object.fromEntries(jobNames.map((name) => [name, consumer(name)])) as JobConsumers;
}
