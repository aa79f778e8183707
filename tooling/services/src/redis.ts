import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './ports.ts';
import { startProcess, which } from './processes.ts';

export const defaultRedisUrl = 'redis://127.0.0.1:6379';

export interface RunningRedis {
  url: string;
  origin: 'existing' | 'started';
  stop(): Promise<void>;
}

export async function pingRedis(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function installHint(): string {
  return process.platform === 'darwin' ? '`brew install redis`' : '`sudo apt-get install redis-server`';
}

/**
 * Finds Redis: the URL given, else one on 127.0.0.1:6379, else a `redis-server` we start on a
 * free port without persistence (queues are rebuilt from PostgreSQL, so nothing is lost).
 */
export async function ensureRedis(options: { url?: string; log?: (line: string) => void } = {}): Promise<RunningRedis> {
  if (options.url) {
    if (!(await pingRedis(options.url))) {
      throw new Error(`Redis does not answer at ${options.url}. Start it, fix REDIS_URL, or unset it to use a local one.`);
    }
    return { url: options.url, origin: 'existing', stop: async () => {} };
  }
  if (await pingRedis(defaultRedisUrl)) return { url: defaultRedisUrl, origin: 'existing', stop: async () => {} };
  const binary = which('redis-server');
  if (!binary) {
    throw new Error(`No Redis on 127.0.0.1:6379 and no redis-server on PATH. Install it with ${installHint()}, or set REDIS_URL.`);
  }
  options.log?.('No Redis on 127.0.0.1:6379; starting a redis-server');
  const server = await startRedisServer({ binary });
  options.log?.(`redis-server on port ${server.port}`);
  return { url: server.url, origin: 'started', stop: () => server.remove() };
}

export interface RedisServer {
  url: string;
  port: number;
  /** True until the server exits, whatever the reason. */
  running(): boolean;
  /** Sends `signal` (SIGKILL: a crash) and waits for the server to exit; its data (none persisted) is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its working directory. */
  remove(): Promise<void>;
}

/**
 * Starts a redis-server of our own on loopback without persistence. Pass the previous `port` to
 * restart one after a kill: clients reconnect to the same address and find it empty, as after a
 * crash of a Redis without persistence.
 */
export async function startRedisServer(options: { port?: number; binary?: string } = {}): Promise<RedisServer> {
  const binary = options.binary ?? which('redis-server');
  if (!binary) throw new Error(`No redis-server on PATH. Install it with ${installHint()}.`);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'cider-redis-'));
  const server = startProcess(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  const url = `redis://127.0.0.1:${port}`;
  const running = () => server.child.exitCode === null && server.child.signalCode === null;
  try {
    await waitFor(`redis-server on port ${port}`, async () => {
      if (!running()) throw new Error(`redis-server exited: ${server.output().trim()}`);
      return pingRedis(url);
    });
  } catch (error) {
    await server.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    port,
    running,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => server.stop(signal),
    async remove() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key matching a pattern (SCAN + UNLINK, so a busy Redis is not blocked). */
export async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
