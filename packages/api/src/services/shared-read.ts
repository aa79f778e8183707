// A read shared for a moment within one process: `read()`, or what it gave for the same key less
// than `ttlMs` ago (single flight: callers while it runs get the same promise). For questions a
// dispatch storm asks a thousand times in a second (a group's peers, a site's mirror); the state
// stays in PostgreSQL, a process only reuses its answer briefly. A failed read is not kept.
import type { ServiceDeps } from './deps.ts';

const reads = new WeakMap<ServiceDeps, Map<string, { at: number; ttlMs: number; value: Promise<unknown> }>>();
/** Entries kept per process before expired ones are swept. */
const sweepAbove = 1000;

export function sharedRead<T>(deps: ServiceDeps, key: string, ttlMs: number, read: () => Promise<T>): Promise<T> {
  let cache = reads.get(deps);
  if (!cache) reads.set(deps, (cache = new Map()));
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && now - hit.at < hit.ttlMs) return hit.value as Promise<T>;
  if (cache.size > sweepAbove) for (const [k, v] of cache) if (now - v.at >= v.ttlMs) cache.delete(k);
  const value = read();
  const entry = { at: now, ttlMs, value };
  cache.set(key, entry);
  value.catch(() => {
    if (cache.get(key) === entry) cache.delete(key);
  });
  return value;
}
