import type { Db } from '@cider/db';
import type { RegistryClientOptions } from '@cider/oci';
import type { Redis } from 'ioredis';
import type { EventPublisher } from '../events.ts';
import type { JobQueues } from '../jobs/catalog.ts';
import type { ServerTaskConfig } from './tasks/config.ts';

/** Everything services need, built once per process (web, control) and passed in. */
export interface ServiceDeps {
  db: Db;
  /** A command connection (not a subscriber). */
  redis: Redis;
  /** Redis key prefix: every key and channel this deployment uses starts with it. */
  prefix: string;
  queues: JobQueues;
  events: EventPublisher;
  /** AES-256-GCM key for registry credentials. */
  secretKey: Buffer;
  /** Overrides for registry clients (tests shorten retries). */
  registryClientOptions?: Partial<RegistryClientOptions>;
  /** Nodes each registry fetcher of a site feeds by peers (fleet/peers.ts; default 4). */
  peerFanOut?: number;
  /** Server tasks and bundle downloads (services/tasks); absent: they answer that they are not set up here. */
  tasks?: ServerTaskConfig;
}

/** Who is acting, for authorization and the audit log. */
export interface Actor {
  userId?: string;
  /** Shown in the audit log: an email, `system`, or `node:<name>`. */
  label: string;
}

export const systemActor: Actor = { label: 'system' };
