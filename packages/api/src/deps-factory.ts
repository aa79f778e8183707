import { createDb } from '@cider/db';
import { Redis } from 'ioredis';
import { EventHub, RedisEventPublisher } from './events.ts';
import { JobQueues } from './jobs/catalog.ts';
import { parseSecretKey } from './secrets.ts';
import type { ServiceDeps } from './services/deps.ts';

export interface ServiceDepsConfig {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  secretKey: string;
  dbPoolSize?: number;
}

/**
 * Builds the connections a process needs. Returns `close()`, which closes every connection it
 * opened (BullMQ's close leaves connections it was given open, so we close them ourselves).
 */
export function createServiceDeps(config: ServiceDepsConfig): { deps: ServiceDeps; hub: EventHub; close(): Promise<void> } {
  const db = createDb(config.databaseUrl, { max: config.dbPoolSize ?? 10 });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queues = new JobQueues(redis, config.redisPrefix);
  const deps: ServiceDeps = {
    db,
    redis,
    prefix: config.redisPrefix,
    queues,
    events: new RedisEventPublisher(redis, config.redisPrefix),
    secretKey: parseSecretKey(config.secretKey),
  };
  const hub = new EventHub(subscriber, config.redisPrefix);
  return {
    deps,
    hub,
    async close() {
      await queues.close();
      await db.$disconnect();
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}
