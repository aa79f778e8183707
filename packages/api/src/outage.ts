// Outages of the services web and control stand on (PostgreSQL, Redis): one error class that
// says which service is down in words for people, a classifier for the errors the drivers throw,
// and a reporter that logs an outage when it starts, now and then while it lasts, and when it ends,
// instead of once per failed call.
import { databaseOutage } from '@cider/db';

export type Service = 'database' | 'redis';

const messages: Record<Service, string> = {
  database: 'The database is unreachable; the dashboard will work again when it is back.',
  redis: 'Redis (queues and live updates) is unreachable; this will work again when it is back.',
};

/** A call failed because a service is down or too slow: answered with 503, never a hang. */
export class ServiceUnavailableError extends Error {
  override name = 'ServiceUnavailableError';
  constructor(
    readonly service: Service,
    message = messages[service],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ioredis's messages when a command cannot reach Redis (no codes on them). */
const redisMessages = [
  'Command timed out',
  'Reached the max retries per request limit',
  'Connection is closed',
  "Stream isn't writeable and enableOfflineQueue options is false",
];

function isRedisOutage(error: Record<string, unknown>): boolean {
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const message = typeof error.message === 'string' ? error.message : '';
  return redisMessages.some((m) => message.includes(m));
}

/**
 * By name as well as by class: Next.js bundles this module once per layer (server components,
 * route handlers), and a connection made in one layer throws its layer's class into the other.
 */
function asServiceUnavailable(error: Record<string, unknown>): ServiceUnavailableError | undefined {
  if (error instanceof ServiceUnavailableError) return error;
  if (error.name !== 'ServiceUnavailableError' || (error.service !== 'database' && error.service !== 'redis')) return undefined;
  return new ServiceUnavailableError(error.service, typeof error.message === 'string' ? error.message : undefined, { cause: error });
}

/** The outage `error` stands for (looking through wrapped causes), or undefined for any other error. */
export function serviceOutage(error: unknown): ServiceUnavailableError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const known = asServiceUnavailable(current as Record<string, unknown>);
    if (known) return known;
    if (isRedisOutage(current as Record<string, unknown>)) return new ServiceUnavailableError('redis', undefined, { cause: error });
    current = (current as { cause?: unknown }).cause;
  }
  const db = databaseOutage(error);
  if (db === 'unreachable') return new ServiceUnavailableError('database', undefined, { cause: error });
  if (db === 'timeout') return new ServiceUnavailableError('database', 'The database did not answer in time; try again in a moment.', { cause: error });
  return undefined;
}

/** Rejects with `onTimeout()` if `promise` has not settled within `ms` (the promise itself runs on). */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The part of a pino logger outage reports need; console works too. */
export interface OutageLogger {
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export const consoleOutageLogger: OutageLogger = {
  warn: (details, message) => console.warn(message, JSON.stringify(details)),
  info: (details, message) => console.info(message, JSON.stringify(details)),
};

/**
 * One per service and process: `failed()` on every failure, `recovered()` on any success.
 * Logs the first failure, then at most once per `everyMs` while it lasts ("still waiting"),
 * then once when it ends, with how long it lasted and how many failures were seen.
 */
export class OutageReporter {
  private since: number | undefined;
  private failures = 0;
  private lastLogAt = 0;

  constructor(
    private readonly what: string,
    private readonly log: OutageLogger,
    private readonly everyMs = 30_000,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  failed(reason: unknown, waitingFor = 'waiting for it to come back'): void {
    const now = Date.now();
    const detail = reason instanceof Error ? reason.message : String(reason);
    this.failures++;
    if (this.since === undefined) {
      this.since = now;
      this.lastLogAt = now;
      this.log.warn({ service: this.what, reason: detail }, `${this.what} is unreachable; ${waitingFor}`);
      return;
    }
    if (now - this.lastLogAt >= this.everyMs) {
      this.lastLogAt = now;
      this.log.warn({ service: this.what, reason: detail, downForS: Math.round((now - this.since) / 1000), failures: this.failures }, `${this.what} is still unreachable; ${waitingFor}`);
    }
  }

  recovered(): void {
    if (this.since === undefined) return;
    const downForS = Math.round((Date.now() - this.since) / 1000);
    this.log.info({ service: this.what, downForS, failures: this.failures }, `${this.what} is back`);
    this.since = undefined;
    this.failures = 0;
  }
}
