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
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'cider-redis-'));
  options.log?.(`No Redis on 127.0.0.1:6379; starting redis-server on port ${port}`);
  const server = startProcess(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(`redis-server on port ${port}`, async () => {
    if (server.child.exitCode !== null) throw new Error(`redis-server exited: ${server.output().trim()}`);
    return pingRedis(url);
  });
  return {
    url,
    origin: 'started',
    async stop() {
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
