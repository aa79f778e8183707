// Cache quota: when the cache is over its quota (or a pull needs room), the least recently used
// images that no pin asks for go first. Pinned images are never evicted, nor an image a pull in
// progress is taking. Every eviction is reported with its reason. To make room for a pull, images
// go only if together they free enough: evicting some and failing anyway would lose them for
// nothing.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isIndex, parseManifest, prune, statfsFreeSpace, type CachedImage, type Digest, type HostCache } from '@cider/oci';

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

/** Partial downloads touched this recently stay through an eviction: the pull that made room resumes them. */
const keepRecentIngestMs = 60 * 60_000;

async function evictOne(cache: HostCache, image: CachedImage, reason: string): Promise<Eviction> {
  await cache.removeFromIndex(image.digest);
  const report = await prune(cache, { keepIngestNewerThanMs: keepRecentIngestMs });
  return { digest: image.digest, ...(image.reference ? { reference: image.reference } : {}), reason, freedBytes: report.freedBytes };
}

/**
 * Removes every image, pinned or not, and every partial download: the node was decommissioned
 * and an admin chose to purge its cache.
 */
export async function purgeCache(cache: HostCache, reason: string): Promise<Eviction[]> {
  const evictions: Eviction[] = [];
  for (const image of await cache.listImages()) {
    await cache.removeFromIndex(image.digest);
    evictions.push({ digest: image.digest, ...(image.reference ? { reference: image.reference } : {}), reason, freedBytes: 0 });
  }
  const report = await prune(cache, { keepIngestNewerThanMs: 0 });
  // One prune frees the blobs the images shared; the total goes to the first report.
  if (evictions[0]) evictions[0].freedBytes = report.freedBytes;
  return evictions;
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

/** Blobs an image holds in the cache (manifest, index, configs, layers), with their sizes. */
async function blobsOf(cache: HostCache, image: CachedImage): Promise<Map<string, number>> {
  const blobs = new Map<string, number>();
  const visit = async (digest: Digest, mediaType: string, depth: number): Promise<void> => {
    const info = await stat(cache.blobPath(digest)).catch(() => undefined);
    if (!info || blobs.has(digest)) return;
    blobs.set(digest, info.size);
    if (depth > 1 || info.size > 4 * 1024 * 1024) return;
    let manifest;
    try {
      manifest = parseManifest(await cache.readBlob(digest), mediaType);
    } catch {
      return;
    }
    if (isIndex(manifest)) for (const child of manifest.manifests) await visit(child.digest, child.mediaType, depth + 1);
    else for (const d of [manifest.config, ...manifest.layers]) blobs.set(d.digest, (await stat(cache.blobPath(d.digest)).catch(() => undefined))?.size ?? 0);
  };
  await visit(image.digest, image.mediaType, 0);
  return blobs;
}

/** Bytes of files joined from parts in the image's folder (a copy each, freed with the folder). */
async function joinedBytes(cache: HostCache, image: CachedImage): Promise<number> {
  const record = await cache.readImageRecord(image.digest);
  let total = 0;
  for (const file of record?.files ?? []) {
    if (file.placement !== 'joined' && !(file.parts && file.parts.length > 1)) continue;
    total += (await stat(join(cache.layout.imagePath(image.digest), file.name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/**
 * The fewest images, in eviction order, whose going frees `shortfall` bytes (blobs no image that
 * stays shares, plus joined files); undefined if even all of them would not.
 */
export async function planRoom(cache: HostCache, images: CachedImage[], candidates: CachedImage[], shortfall: number): Promise<CachedImage[] | undefined> {
  const blobs = new Map<string, Map<string, number>>();
  for (const image of images) blobs.set(image.digest, await blobsOf(cache, image));
  for (let count = 1; count <= candidates.length; count++) {
    const going = new Set(candidates.slice(0, count).map((i) => i.digest));
    const kept = new Set<string>();
    for (const image of images) if (!going.has(image.digest)) for (const digest of blobs.get(image.digest)!.keys()) kept.add(digest);
    const freed = new Map<string, number>();
    for (const digest of going) for (const [blob, size] of blobs.get(digest)!) if (!kept.has(blob)) freed.set(blob, size);
    let bytes = [...freed.values()].reduce((a, b) => a + b, 0);
    for (const image of candidates.slice(0, count)) bytes += await joinedBytes(cache, image);
    if (bytes >= shortfall) return candidates.slice(0, count);
  }
  return undefined;
}

/**
 * Evicts until `neededBytes` are free on the cache's disk (for a pull that would not fit), if
 * the images that may go free enough together; otherwise evicts nothing.
 */
export async function makeRoom(
  cache: HostCache,
  neededBytes: number,
  pinned: ReadonlySet<string>,
  busy: ReadonlySet<string>,
  freeSpace: (path: string) => Promise<number> = statfsFreeSpace,
): Promise<Eviction[]> {
  const free = await freeSpace(cache.root);
  if (free >= neededBytes) return [];
  const images = await cache.listImages();
  const plan = await planRoom(cache, images, evictionOrder(images, pinned, busy), neededBytes - free);
  const evictions: Eviction[] = [];
  for (const image of plan ?? []) {
    if ((await freeSpace(cache.root)) >= neededBytes) break;
    evictions.push(await evictOne(cache, image, `disk too full for a new pull (needs ${gib(neededBytes)}, ${gib(free)} free); least recently used unpinned image`));
  }
  return evictions;
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
