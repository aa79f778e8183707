import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsck, HostCache, pull, pushArtifact, RegistryClient, type CachedImage } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { enforceQuota, evictionOrder, makeRoom, purgeCache } from './eviction.ts';

const MiB = 1024 * 1024;

describe('eviction order', () => {
  const image = (digest: string, lastUsedAt: string): CachedImage => ({ digest: digest as `sha256:${string}`, mediaType: 'm', tags: [], size: 1, lastUsedAt, materialized: true });
  it('takes unpinned, idle images, least recently used first', () => {
    const images = [image('sha256:a', '2026-01-03T00:00:00Z'), image('sha256:b', '2026-01-01T00:00:00Z'), image('sha256:c', '2026-01-02T00:00:00Z'), image('sha256:d', '2025-12-01T00:00:00Z')];
    const order = evictionOrder(images, new Set(['sha256:b']), new Set(['sha256:d']));
    expect(order.map((i) => i.digest)).toEqual(['sha256:c', 'sha256:a']);
  });
});

describe('quota and room on a real cache (real registry)', () => {
  let work: string;
  let client: RegistryClient;
  const repository = uniqueRepository('evict');
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-evict-'));
    client = new RegistryClient();
    for (const tag of ['a', 'b', 'c']) {
      const file = join(work, `${tag}.bin`);
      await writeRandomFile(file, 4 * MiB);
      digests[tag] = (await pushArtifact({ client, reference: `${inject('registryHost')}/${repository}:${tag}`, files: [{ path: file }] })).digest;
    }
  });
  afterAll(async () => {
    await client.close();
    await rm(work, { recursive: true, force: true });
  });

  async function cacheWithAll(name: string): Promise<HostCache> {
    const cache = await HostCache.open(join(work, name));
    // Pulled a, b, c in that order; then "used": a oldest, c newest.
    for (const [i, tag] of ['a', 'b', 'c'].entries()) {
      const result = await pull({ client, cache, reference: `${inject('registryHost')}/${repository}:${tag}` });
      const when = new Date(Date.UTC(2026, 0, 1 + i));
      await utimes(join(result.imagePath!, 'image.json'), when, when);
    }
    return cache;
  }

  it('evicts least recently used unpinned images until the cache fits its quota, never a pinned one', async () => {
    const cache = await cacheWithAll('quota');
    const evictions = await enforceQuota(cache, 9 * MiB, new Set([digests.a!]), new Set());
    // a is pinned: b (the least recently used of the rest) goes, and that is enough.
    expect(evictions.map((e) => e.digest)).toEqual([digests.b]);
    expect(evictions[0]!.reason).toMatch(/cache over its quota/);
    expect(evictions[0]!.freedBytes).toBeGreaterThanOrEqual(4 * MiB);
    expect((await cache.listImages()).map((i) => i.digest).sort()).toEqual([digests.a, digests.c].sort());
    expect((await fsck(cache)).ok).toBe(true);
    expect(await enforceQuota(cache, 9 * MiB, new Set([digests.a!]), new Set())).toEqual([]);
  });

  it('makes room for a pull from unpinned images, never pinned or busy ones, and evicts nothing when that would not be enough', async () => {
    const cache = await cacheWithAll('room');
    // A small disk: 1 MiB free with three images held, 4 MiB more for each one gone (the
    // reading is simulated; the files really go).
    const freeSpace = async (path: string) => 1 * MiB + (3 - (await (await HostCache.open(path)).listImages()).length) * 4 * MiB;
    // c is pinned and b is being pulled: only a may go. 6 MiB needs more than a frees, so
    // nothing goes (evicting a would lose it for nothing).
    expect(await makeRoom(cache, 6 * MiB, new Set([digests.c!]), new Set([digests.b!]), freeSpace)).toEqual([]);
    expect((await cache.listImages()).map((i) => i.digest).sort()).toEqual([digests.a, digests.b, digests.c].sort());
    // 4.5 MiB: a is enough.
    const evictions = await makeRoom(cache, 4.5 * MiB, new Set([digests.c!]), new Set([digests.b!]), freeSpace);
    expect(evictions.map((e) => e.digest)).toEqual([digests.a]);
    expect(evictions[0]!.reason).toMatch(/disk too full for a new pull/);
    expect((await cache.listImages()).map((i) => i.digest).sort()).toEqual([digests.b, digests.c].sort());
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('purges every image, pinned ones too, and leaves an empty cache that checks out', async () => {
    const cache = await cacheWithAll('purge');
    expect(await cache.blobBytes()).toBeGreaterThanOrEqual(12 * MiB);
    const evictions = await purgeCache(cache, 'cache purged: decommissioned');
    expect(evictions.map((e) => e.digest).sort()).toEqual([digests.a, digests.b, digests.c].sort());
    expect(evictions.every((e) => e.reason === 'cache purged: decommissioned')).toBe(true);
    expect(evictions.reduce((sum, e) => sum + e.freedBytes, 0)).toBeGreaterThanOrEqual(12 * MiB);
    expect(await cache.listImages()).toEqual([]);
    expect(await cache.blobBytes()).toBe(0);
    expect((await fsck(cache)).ok).toBe(true);
  });
});
