// Cache quota: when the cache is over its quota (or a pull needs room), the least recently used
// images that no pin asks for go first. Pinned images are never evicted, nor an image a pull in
// progress is taking. Every eviction is reported with its reason.
import { prune, statfsFreeSpace, type CachedImage, type HostCache } from '@cider/oci';

export interface Eviction {
  digest: string;
  reference?: string;
  reason: string;
  freedBytes: number;
}

function lastUse(image: CachedImage): number {
  return Date.parse(image.lastUsedAt ?? image.pulledAt ?? '1970-01-01T00:00:00Z');
}

/** The candidates, in the order they would go: unpinned, not busy, least recently used first. */
export function evictionOrder(images: CachedImage[], pinned: ReadonlySet<string>, busy: ReadonlySet<string>): CachedImage[] {
  return images.filter((i) => !pinned.has(i.digest) && !busy.has(i.digest)).sort((a, b) => lastUse(a) - lastUse(b));
}

async function evictOne(cache: HostCache, image: CachedImage, reason: string): Promise<Eviction> {
  await cache.removeFromIndex(image.digest);
  const report = await prune(cache);
  return { digest: image.digest, ...(image.reference ? { reference: image.reference } : {}), reason, freedBytes: report.freedBytes };
}

/** Evicts until the cache's blobs fit in `quotaBytes`. */
export async function enforceQuota(cache: HostCache, quotaBytes: number, pinned: ReadonlySet<string>, busy: ReadonlySet<string>): Promise<Eviction[]> {
  const evictions: Eviction[] = [];
  let used = await cache.blobBytes();
  if (used <= quotaBytes) return evictions;
  for (const image of evictionOrder(await cache.listImages(), pinned, busy)) {
    const reason = `cache over its quota (${gib(used)} of ${gib(quotaBytes)}); least recently used unpinned image`;
    evictions.push(await evictOne(cache, image, reason));
    used = await cache.blobBytes();
    if (used <= quotaBytes) break;
  }
  return evictions;
}

/** Evicts until `neededBytes` are free on the cache's disk (for a pull that would not fit). */
export async function makeRoom(
  cache: HostCache,
  neededBytes: number,
  pinned: ReadonlySet<string>,
  busy: ReadonlySet<string>,
  freeSpace: (path: string) => Promise<number> = statfsFreeSpace,
): Promise<Eviction[]> {
  const evictions: Eviction[] = [];
  for (const image of evictionOrder(await cache.listImages(), pinned, busy)) {
    if ((await freeSpace(cache.root)) >= neededBytes) break;
    evictions.push(await evictOne(cache, image, `disk too full for a new pull (needs ${gib(neededBytes)}); least recently used unpinned image`));
  }
  return evictions;
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
