// Helpers for test files; the root vitest global setup starts the services and provides their URLs.
import { randomBytes } from 'node:crypto';
import { deleteKeys } from './redis.ts';
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

export { deleteKeys };

/** A repository name nobody else in this run uses. */
export function uniqueRepository(base = 'test'): string {
  return `${base}/${randomBytes(5).toString('hex')}`;
}
export * from './prometheus.ts';
export { serveFetchHandler, type ServedHandler } from './fetch-server.ts';
