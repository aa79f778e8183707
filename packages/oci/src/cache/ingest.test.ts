// Written bytes reach the disk during a download (real registry behind a fault proxy, real
// files): fdatasync runs while bytes still arrive, and when the disk reports that written pages
// were lost (a failed fdatasync or fsync), the download fails and its journal claims none of
// the bytes, so a later pull fetches them again instead of trusting what the disk may not hold.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { fetchBlobToCache } from '../blob-fetch.ts';
import type { Descriptor } from '../manifest.ts';
import { digestFile, pushArtifact } from '../push.ts';
import { RegistryClient } from '../registry/client.ts';
import { useRegistryFixture, writeRandomFile } from '../../testing/index.ts';
import { HostCache } from './cache.ts';
import { fsck } from './maintenance.ts';
import { writeback } from './ingest.ts';

const MiB = 1024 * 1024;

function diskError(call: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EIO: i/o error, ${call}`), { code: 'EIO', errno: -5, syscall: call });
}

describe('ingest writeback (real registry, real files)', () => {
  const fixture = useRegistryFixture('writeback');
  const original = { ...writeback };
  const repository = uniqueRepository('writeback');
  const size = 12 * MiB + 4321;
  let blob: Descriptor;
  let caches = 0;

  beforeAll(async () => {
    const file = join(fixture.work, 'payload.bin');
    await writeRandomFile(file, size);
    const setup = new RegistryClient();
    await pushArtifact({ client: setup, reference: `${inject('registryHost')}/${repository}:v1`, files: [{ path: file }] });
    await setup.close();
    blob = { mediaType: 'application/octet-stream', digest: (await digestFile(file)).digest, size };
  });
  afterEach(() => {
    Object.assign(writeback, original);
  });

  /** Throttled, so the download takes long enough for several writebacks to start during it. */
  const slowly = () => fixture.proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 12 * MiB } : undefined));
  const fetchInto = async (cache: HostCache, onFetched: (bytes: number) => void = () => {}) => {
    let fetched = 0;
    await fetchBlobToCache(fixture.client.repository(fixture.proxy.host, repository), cache, blob, {
      segmentSize: MiB,
      connections: 4,
      onBytes: (delta, network) => {
        if (network) onFetched((fetched += delta));
      },
    });
    return fetched;
  };
  const claimedBytes = async (cache: HostCache) => {
    const journal = JSON.parse(await readFile(join(cache.layout.ingestPath(blob.digest), 'segments.json'), 'utf8')) as { done: number[] };
    return journal.done.reduce((sum, done) => sum + done, 0);
  };

  it('sends written bytes to the disk while the download runs, not all at commit', async () => {
    const cache = await HostCache.open(join(fixture.work, `cache-${caches++}`));
    writeback.everyBytes = MiB;
    let fetched = 0;
    const fetchedAtWriteback: number[] = [];
    writeback.datasync = async (handle) => {
      fetchedAtWriteback.push(fetched);
      await original.datasync(handle);
    };
    slowly();
    await fetchInto(cache, (bytes) => (fetched = bytes));
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    expect(fetchedAtWriteback.length).toBeGreaterThanOrEqual(3);
    expect(fetchedAtWriteback.filter((bytes) => bytes < size / 2).length).toBeGreaterThanOrEqual(1);
  });

  it('fails the download when a writeback fails, and the journal claims no bytes; the next pull fetches them all', async () => {
    const cache = await HostCache.open(join(fixture.work, `cache-${caches++}`));
    writeback.everyBytes = MiB;
    let calls = 0;
    let fetchedAtFailure = 0;
    let fetched = 0;
    writeback.datasync = async (handle) => {
      if (++calls === 2) {
        fetchedAtFailure = fetched;
        throw diskError('fdatasync');
      }
      await original.datasync(handle);
    };
    slowly();
    await expect(fetchInto(cache, (bytes) => (fetched = bytes))).rejects.toMatchObject({ code: 'EIO' });
    expect(fetchedAtFailure).toBeGreaterThan(0);
    expect(fetchedAtFailure).toBeLessThan(size);
    expect(await cache.hasBlob(blob.digest)).toBe(false);
    expect(await claimedBytes(cache)).toBe(0);
    expect(await cache.partialBytes(blob.digest, size)).toBe(0);

    Object.assign(writeback, original);
    fixture.proxy.setRule(undefined);
    expect(await fetchInto(cache)).toBe(size);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it("fails the commit when its fsync fails, keeps the blob invisible, and the journal claims no bytes", async () => {
    const cache = await HostCache.open(join(fixture.work, `cache-${caches++}`));
    writeback.fsync = () => Promise.reject(diskError('fsync'));
    await expect(fetchInto(cache)).rejects.toMatchObject({ code: 'EIO' });
    expect(await cache.hasBlob(blob.digest)).toBe(false);
    expect(await claimedBytes(cache)).toBe(0);

    Object.assign(writeback, original);
    expect(await fetchInto(cache)).toBe(size);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    expect((await fsck(cache)).ok).toBe(true);
  });
});
