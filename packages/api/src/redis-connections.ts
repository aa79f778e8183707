// Redis connections by role. Request paths (web, the gateway) must never wait on a Redis that is
// down, so their command connection gives up fast; BullMQ workers' blocking connections and
// pub/sub subscribers wait for Redis to return (BullMQ requires maxRetriesPerRequest: null on
// them, and a subscriber has nothing better to do). Every connection reports to one
// OutageReporter per process, so an outage is logged a few times, not once per retry.
import { Redis, type RedisOptions } from 'ioredis';
import { serviceOutage, type OutageLogger, type OutageReporter } from './outage.ts';

/**
 * - `command`: web requests, the gateway, enqueueing (BullMQ Queue is not a worker, so bounded
 *   retries are allowed on it): a command fails after `commandTimeoutMs`, and commands queued
 *   while disconnected fail after one reconnect attempt.
 * - `subscriber`: pub/sub; SUBSCRIBE waits, and ioredis resubscribes after a reconnect.
 * - `worker`: BullMQ Worker connections (blocking commands).
 */
export type RedisRole = 'command' | 'subscriber' | 'worker';

export const defaultRedisCommandTimeoutMs = 2_000;

export function redisOptions(role: RedisRole, commandTimeoutMs = defaultRedisCommandTimeoutMs): RedisOptions {
  const common: RedisOptions = {
    connectTimeout: 3_000,
    // Reconnect quickly once Redis is back: at most 2 s between attempts, forever.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  if (role === 'command') return { ...common, commandTimeout: commandTimeoutMs, maxRetriesPerRequest: 1 };
  return { ...common, maxRetriesPerRequest: null };
}

/** A connection for `role` whose failures and recovery go to `reporter` (and never to ioredis's "Unhandled error event" console lines). */
export function createRedisConnection(url: string, role: RedisRole, reporter?: OutageReporter, commandTimeoutMs?: number): Redis {
  const redis = new Redis(url, redisOptions(role, commandTimeoutMs));
  redis.on('error', (error: Error) => reporter?.failed(error));
  redis.on('ready', () => reporter?.recovered());
  return redis;
}

const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** Whether an error a Redis client emitted (ioredis, or BullMQ passing it on) is about the connection rather than a command. */
export function isRedisConnectionError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && socketCodes.has(code)) return true;
  return serviceOutage(error)?.service === 'redis' || (typeof message === 'string' && /connect|Connection/.test(message));
}

/**
 * BullMQ's complaints about a job whose Redis state vanished under it (Redis restarted empty or
 * was flushed): PostgreSQL's record of the job stands and the next reconcile queues it again.
 */
export function isLostJobStateError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /could not renew lock for job|Missing lock for job|Lock mismatch for job|Missing key for job/.test(message);
}

async function ping(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<REDIS_URL>';
  }
}

/** Resolves once Redis at `url` answers a PING; logs when the wait starts, every `logEveryMs`, and when it ends. */
export async function waitForRedis(url: string, log: OutageLogger, options: { maxDelayMs?: number; logEveryMs?: number } = {}): Promise<void> {
  const started = Date.now();
  let delay = 500;
  let attempts = 0;
  let lastLogAt = 0;
  for (;;) {
    attempts++;
    try {
      await ping(url);
      if (attempts > 1) log.info({ attempts, waitedS: Math.round((Date.now() - started) / 1000) }, `Redis at ${redactRedisUrl(url)} answers again`);
      return;
    } catch (error) {
      if (attempts === 1 || Date.now() - lastLogAt >= (options.logEveryMs ?? 30_000)) {
        lastLogAt = Date.now();
        const reason = error instanceof Error ? error.message : String(error);
        log.warn({ attempts, waitedS: Math.round((Date.now() - started) / 1000), reason }, `waiting for Redis at ${redactRedisUrl(url)}`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(options.maxDelayMs ?? 10_000, delay * 2);
    }
  }
}
