// What every image page shares: a registry client tuned for a person waiting on a page, a small
// process-wide cache of registry answers, and the lookups and checks each page starts with.
// Registry access goes through clientFor, so credentials stay in this process; registry errors
// become AppErrors through fromOciError.
import type { Registry } from '@cider/db';
import { parseReference, type RegistryClient } from '@cider/oci';
import { LRUCache } from 'lru-cache';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { clientFor, fromOciError } from '../registries/registries.ts';

/** Catalog and tag lists change rarely and pages refetch on every fleet event: keep them briefly. */
export const listTtlMs = 15_000;
/** Content addressed by digest never changes. */
export const forever = Number.POSITIVE_INFINITY;
/** Manifests and configs above this are not kept, so the cache stays a few MiB at most. */
export const maxCachedBytes = 64 * 1024; // a Cider config with piece digests: about 18 KB per 15 GB

/**
 * Browsing answers a person waiting on a page (refetched on fleet events): a registry that is
 * down should say so in a second or two, not after a pull's patient retries.
 */
export function browseClient(deps: ServiceDeps, registry: Registry): RegistryClient {
  return clientFor({ ...deps, registryClientOptions: { retry: { retries: 1, baseDelayMs: 200, maxDelayMs: 1_000 }, stallTimeoutMs: 20_000, ...deps.registryClientOptions } }, registry);
}

// Registry answers by key, least recently used out past 2,000. Lookups in flight are shared;
// failures are not remembered.
// Ages are read off the wall clock (not performance.now()), which tests can move.
const answers = new LRUCache<string, { value: Promise<unknown> }>({ max: 2_000, perf: { now: () => Date.now() } });

/** `keep` decides, once the value is there, whether it is worth keeping beyond this call. */
export function remember<T>(key: string, ttlMs: number, load: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> {
  const hit = answers.get(key);
  if (hit) return hit.value as Promise<T>;
  const value = load();
  if (ttlMs <= 0) return value;
  const entry = { value };
  answers.set(key, entry, ttlMs === forever ? {} : { ttl: ttlMs });
  const drop = () => {
    if (answers.get(key) === entry) answers.delete(key);
  };
  value.then((v) => (keep(v) ? undefined : drop()), drop);
  return value;
}

/** Cache keys change with the registry's settings, so new credentials never see old answers. */
export function cacheKey(registry: Registry, ...parts: string[]): string {
  return [registry.id, registry.updatedAt.getTime(), ...parts].join('\u0000');
}

export async function loadRegistry(deps: ServiceDeps, registryId: string): Promise<Registry> {
  const registry = await deps.db.registry.findUnique({ where: { id: registryId } });
  if (!registry) throw new AppError('NOT_FOUND', 'No such registry: it may have been removed.');
  return registry;
}

export function registrySummary(registry: Registry) {
  return { id: registry.id, name: registry.name, host: registry.host };
}

export function checkRepository(registry: Registry, repository: string): string {
  try {
    const ref = parseReference(`${registry.host}/${repository}`);
    if (ref.repository === repository) return repository;
  } catch {
    // reported below
  }
  throw new AppError('BAD_REQUEST', `"${repository}" is not a repository name: lowercase path components like demo/macos.`);
}

/** Runs `run` with a browsing client, closed afterwards; registry errors become AppErrors saying `what` failed. */
export async function withClient<T>(deps: ServiceDeps, registry: Registry, what: string, run: (client: RegistryClient) => Promise<T>): Promise<T> {
  const client = browseClient(deps, registry);
  try {
    return await run(client);
  } catch (error) {
    throw fromOciError(error, what);
  } finally {
    await client.close();
  }
}
