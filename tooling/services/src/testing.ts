// Helpers for test files; the root vitest global setup starts the services and provides their URLs.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** A registry without auth shared by the whole run; use unique repository names. */
    registryUrl: string;
    registryHost: string;
  }
}

/** A Redis key prefix owned by one test file; every key under it is deleted after the file. */
export function useRedisPrefix(): { readonly url: string; readonly prefix: string } {
  const prefix = `t${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = inject('redisUrl');
  afterAll(async () => {
    await deleteKeys(url, `${prefix}*`);
  });
  return { url, prefix };
}

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

/** A repository name nobody else in this run uses. */
export function uniqueRepository(base = 'test'): string {
  return `${base}/${randomBytes(5).toString('hex')}`;
}
