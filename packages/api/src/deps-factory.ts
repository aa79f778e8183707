import { createDb } from '@cider/db';
import type { RegistryClientOptions } from '@cider/oci';
import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { EventHub, RedisEventPublisher } from './events.ts';
import { JobQueues, jobNames, type JobName, type JobPayload } from './jobs/catalog.ts';
import { consoleOutageLogger, OutageReporter, serviceOutage, ServiceUnavailableError, withTimeout, type OutageLogger } from './outage.ts';
import { createRedisConnection } from './redis-connections.ts';
import { parseSecretKey } from './secrets.ts';
import type { ServiceDeps } from './services/deps.ts';
import type { ServerTaskConfig } from './services/tasks/config.ts';

export interface ServiceDepsConfig {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  secretKey: string;
  dbPoolSize?: number;
  /** Where outages are reported (a pino logger works); console otherwise. */
  log?: OutageLogger;
  /**
   * `best-effort` (web): enqueueing after a committed change never fails the request. When Redis
   * is down the job is dropped and logged, and the control plane's reconcile (at start, every few
   * minutes, and when Redis comes back) rebuilds it from PostgreSQL. `required` (control, the
   * default): enqueue errors are thrown, so the job that enqueued is retried.
   */
  enqueue?: 'required' | 'best-effort';
  /** The longest an enqueue may take before it counts as failed (default 2.5 s). */
  enqueueTimeoutMs?: number;
  /** Registry clients' settings (web shortens retries so a request to a registry that is down answers in seconds). */
  registryClientOptions?: Partial<RegistryClientOptions>;
  /** Nodes each registry fetcher of a site feeds by peers (default 4). */
  peerFanOut?: number;
  /** Server tasks and bundle downloads: the @cider/oci runners, Apple's catalog URL, the bundle directory. */
  tasks?: ServerTaskConfig;
}

/**
 * BullMQ waits for its connection to become ready before its first command, however long that
 * takes; every enqueue gets a deadline here so a request never waits on a Redis that is down.
 */
class DeadlineQueues extends JobQueues {
  constructor(
    connection: Redis,
    prefix: string,
    private readonly timeoutMs: number,
    private readonly bestEffort: { reporter: OutageReporter } | undefined,
    connectionReporter: OutageReporter,
  ) {
    super(connection, prefix);
    // BullMQ prints connection errors of a Queue without an 'error' listener to the console, once per retry.
    for (const name of jobNames) this.queue(name).on('error', (error: Error) => connectionReporter.failed(error));
  }

  private async guard(what: string, enqueue: () => Promise<void>): Promise<void> {
    const unavailable = () => new ServiceUnavailableError('redis', `Redis did not take the ${what} job within ${this.timeoutMs} ms`);
    try {
      await withTimeout(enqueue(), this.timeoutMs, unavailable);
    } catch (error) {
      const outage = serviceOutage(error);
      if (!outage || !this.bestEffort) throw outage ?? error;
      this.bestEffort.reporter.failed(outage, `the ${what} job is left to the control plane's reconcile, which rebuilds it from PostgreSQL`);
    }
  }

  override add<N extends JobName>(name: N, payload: JobPayload<N>, options: JobsOptions = {}): Promise<void> {
    return this.guard(name, () => super.add(name, payload, options));
  }

  override addBulk<N extends JobName>(name: N, jobs: { payload: JobPayload<N>; jobId?: string }[]): Promise<void> {
    return this.guard(name, () => super.addBulk(name, jobs));
  }
}

/**
 * Builds the connections a process needs. Returns `close()`, which closes every connection it
 * opened (BullMQ's close leaves connections it was given open, so we close them ourselves).
 * Every connection times out: PostgreSQL (see createDb) and the Redis command connection fail
 * fast while the service is down; only the event subscription waits for Redis to return.
 */
export function createServiceDeps(config: ServiceDepsConfig): {
  deps: ServiceDeps;
  hub: EventHub;
  /** Where this process reports Redis outages: give it the process's other Redis connections too. */
  redisReporter: OutageReporter;
  close(): Promise<void>;
} {
  const log = config.log ?? consoleOutageLogger;
  const redisReporter = new OutageReporter('Redis', log);
  const db = createDb(config.databaseUrl, { max: config.dbPoolSize ?? 10 });
  const redis = createRedisConnection(config.redisUrl, 'command', redisReporter);
  const subscriber = createRedisConnection(config.redisUrl, 'subscriber', redisReporter);
  const bestEffort = config.enqueue === 'best-effort' ? { reporter: new OutageReporter('Redis (job queue)', log) } : undefined;
  const queues = new DeadlineQueues(redis, config.redisPrefix, config.enqueueTimeoutMs ?? 2_500, bestEffort, redisReporter);
  const deps: ServiceDeps = {
    db,
    redis,
    prefix: config.redisPrefix,
    queues,
    events: new RedisEventPublisher(redis, config.redisPrefix, { reporter: new OutageReporter('Redis (live events)', log) }),
    secretKey: parseSecretKey(config.secretKey),
    ...(config.registryClientOptions ? { registryClientOptions: config.registryClientOptions } : {}),
    ...(config.peerFanOut ? { peerFanOut: config.peerFanOut } : {}),
    ...(config.tasks ? { tasks: config.tasks } : {}),
  };
  const hub = new EventHub(subscriber, config.redisPrefix);
  return {
    deps,
    hub,
    redisReporter,
    async close() {
      // Queues that never reached Redis would wait for it on close: don't let shutdown hang.
      await withTimeout(queues.close(), 5_000, () => new Error('closing the queues timed out')).catch(() => {});
      await db.$disconnect();
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}
