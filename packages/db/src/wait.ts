// Waiting for PostgreSQL at startup: a control plane started while the database is down (a
// host reboot, a failover) waits for it with backoff and says so, instead of exiting and being
// restarted in a loop. Anything that is not an outage (bad password, no such database) still
// fails at once: waiting cannot fix configuration.
import pg from 'pg';
import { databaseOutage } from './outage.ts';

export interface WaitForDatabaseOptions {
  /** Called when the wait starts, then at most once per `logEveryMs`, then when the database answers. */
  log?: (line: string) => void;
  /** First retry delay; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  logEveryMs?: number;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The URL without its password, for logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<DATABASE_URL>';
  }
}

async function probe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves once PostgreSQL at `url` answers; retries while it is unreachable, throws on any other error. */
export async function waitForDatabase(url: string, options: WaitForDatabaseOptions = {}): Promise<void> {
  const log = options.log ?? (() => {});
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const logEveryMs = options.logEveryMs ?? 30_000;
  const started = Date.now();
  let delay = options.initialDelayMs ?? 500;
  let attempts = 0;
  let lastLogAt = 0;
  for (;;) {
    attempts++;
    try {
      await probe(url);
      if (attempts > 1) log(`PostgreSQL at ${redactDatabaseUrl(url)} answers again after ${Math.round((Date.now() - started) / 1000)} s (${attempts} attempts)`);
      return;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (!databaseOutage(error)) throw new Error(`Cannot use the database at ${redactDatabaseUrl(url)}: ${reason}`, { cause: error });
      if (options.signal?.aborted) throw new Error(`Stopped waiting for PostgreSQL at ${redactDatabaseUrl(url)}: ${reason}`, { cause: error });
      const waited = Date.now() - started;
      if (options.timeoutMs !== undefined && waited >= options.timeoutMs) {
        throw new Error(`PostgreSQL at ${redactDatabaseUrl(url)} did not answer within ${Math.round(options.timeoutMs / 1000)} s: ${reason}`, { cause: error });
      }
      if (attempts === 1 || Date.now() - lastLogAt >= logEveryMs) {
        lastLogAt = Date.now();
        log(`waiting for PostgreSQL at ${redactDatabaseUrl(url)} (${reason}); attempt ${attempts}, ${Math.round(waited / 1000)} s so far, next try in ${(delay / 1000).toFixed(1)} s`);
      }
      await sleep(delay, options.signal);
      delay = Math.min(maxDelayMs, delay * 2);
    }
  }
}
