// The typed job catalog: every queue's name, payload schema and retry policy in one place.
// Producers (web, control) enqueue through JobQueues; the consumers (control) are made from it by
// createConsumers (consumers.ts), which parses every payload on the way in.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const jobCatalog = {
  /** Desired (pins of the projects a node serves) minus held (its inventory) -> sync jobs. */
  reconcile: {
    payload: z
      .object({
        scope: z.enum(['all', 'node', 'project']),
        /** The node's or project's id (scope node or project). */
        id: z.string().uuid().optional(),
        reason: z.string().max(1000),
      })
      .refine((p) => p.scope === 'all' || p.id !== undefined, 'a node or project scope names its id'),
    options: { attempts: 5, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: 200, removeOnFail: 500 } satisfies JobsOptions,
  },
  /** "Node N must hold digest D": dispatched to the node's agent, done when it reports D. */
  sync: {
    payload: z.object({
      syncJobId: z.string().uuid(),
      nodeId: z.string().uuid(),
      digest,
      reference: z.string().max(512),
      registryId: z.string().uuid(),
    }),
    // History lives in PostgreSQL (sync_jobs); the BullMQ job goes away when it ends, so the
    // same key can be queued again later (after an eviction, say).
    options: { attempts: 8, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: true, removeOnFail: true } satisfies JobsOptions,
  },
  /** Re-resolves `follow` pins; a moved tag rolls out, a frozen pin raises an alert. */
  'registry-watch': {
    payload: z.object({ reason: z.string().max(1000) }),
    options: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 }, removeOnComplete: 50, removeOnFail: 200 } satisfies JobsOptions,
  },
  /**
   * Runs one server task (services/tasks): its row holds what to do and where it stands. One
   * attempt: a task that fails or is interrupted says so, and the admin starts it again.
   */
  'server-task': {
    payload: z.object({ taskId: z.string().uuid() }),
    options: { attempts: 1, removeOnComplete: true, removeOnFail: true } satisfies JobsOptions,
  },
} as const;

export type JobName = keyof typeof jobCatalog;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalog)[N]['payload']>;

export const jobNames = Object.keys(jobCatalog) as JobName[];

/** One BullMQ Queue per catalog entry, sharing a Redis connection and key prefix. */
export class JobQueues {
  private readonly queues: { [N in JobName]: Queue };

  constructor(
    readonly connection: Redis,
    readonly prefix: string,
  ) {
    this.queues = Object.fromEntries(jobNames.map((name) => [name, new Queue(name, { connection, prefix })])) as { [N in JobName]: Queue };
  }

  queue(name: JobName): Queue {
    return this.queues[name];
  }

  /** Validates the payload against the catalog, then enqueues with the catalog's options. */
  async add<N extends JobName>(name: N, payload: JobPayload<N>, options: JobsOptions = {}): Promise<void> {
    const data = jobCatalog[name].payload.parse(payload);
    await this.queues[name].add(name, data, { ...jobCatalog[name].options, ...options });
  }

  /** Many jobs of one kind in one round trip; each keeps the catalog's options (and its own id). */
  async addBulk<N extends JobName>(name: N, jobs: { payload: JobPayload<N>; jobId?: string }[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queues[name].addBulk(
      jobs.map((job) => ({
        name,
        data: jobCatalog[name].payload.parse(job.payload),
        opts: { ...jobCatalog[name].options, ...(job.jobId ? { jobId: job.jobId } : {}) },
      })),
    );
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
