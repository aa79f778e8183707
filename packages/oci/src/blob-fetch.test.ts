// Blob downloads through the fault-injecting proxy in front of a real registry.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fetchBlobToCache } from './blob-fetch.ts';
import { HostCache } from './cache/cache.ts';
import { fsck } from './cache/maintenance.ts';
import { DigestMismatchError } from './errors.ts';
import type { Descriptor } from './manifest.ts';
import { digestFile, pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { useRegistryFixture, writeRandomFile, type FaultProxy } from '../testing/index.ts';

const MiB = 1024 * 1024;

describe('blob download: parallel ranges, resume, faults (real registry behind a fault proxy)', () => {
  const fixture = useRegistryFixture('blob', { retry: { retries: 4, baseDelayMs: 20, maxDelayMs: 200 }, stallTimeoutMs: 1_000 });
  let work: string;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let blob: Descriptor;
  const repository = uniqueRepository('blobs');
  const size = 12 * MiB + 12345;
  let caches = 0;

  const newCache = () => HostCache.open(join(work, `cache-${caches++}`));
  const fetchVia = async (cache: HostCache, options: Parameters<typeof fetchBlobToCache>[3] = {}) => {
    let fetched = 0;
    await fetchBlobToCache(client.repository(proxy.host, repository), cache, blob, {
      segmentSize: MiB,
      connections: 4,
      ...options,
      onBytes: (delta, network) => {
        if (network) fetched += delta;
        options.onBytes?.(delta, network);
      },
    });
    return fetched;
  };

  beforeAll(async () => {
    ({ work, proxy, client } = fixture);
    const file = join(work, 'payload.bin');
    await writeRandomFile(file, size);
    const setup = new RegistryClient();
    await pushArtifact({ client: setup, reference: `${inject('registryHost')}/${repository}:v1`, files: [{ path: file }] });
    await setup.close();
    const { digest } = await digestFile(file);
    blob = { mediaType: 'application/octet-stream', digest, size };
  });

  const blobGets = () => proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));

  it('fetches segments in parallel with Range and verifies the whole', async () => {
    const cache = await newCache();
    const fetched = await fetchVia(cache);
    expect(fetched).toBe(size);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    const ranges = blobGets().map((r) => r.headers.range);
    expect(ranges).toHaveLength(13);
    expect(new Set(ranges).size).toBe(13);
    expect(ranges).toContain('bytes=0-1048575');
    expect(ranges).toContain(`bytes=${12 * MiB}-${size - 1}`);
    expect((await fsck(cache)).quarantined).toEqual([]);
    expect(await readdir(cache.layout.ingestDir)).toEqual([]);
  });

  it('resumes segments after connections drop mid-body, fetching little twice', async () => {
    let drops = 0;
    proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') && drops++ < 3 ? { kind: 'drop', afterBytes: 300_000 } : undefined));
    const servedBefore = proxy.blobBytesServed;
    const cache = await newCache();
    const fetched = await fetchVia(cache);
    expect(fetched).toBe(size);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    // Dropped segments continue from where they stopped, not from their start.
    const resumed = blobGets().filter((r) => /^bytes=\d+-/.test(String(r.headers.range)) && Number(/bytes=(\d+)/.exec(String(r.headers.range))![1]) % MiB !== 0);
    expect(resumed.length).toBeGreaterThanOrEqual(3);
    expect(proxy.blobBytesServed - servedBefore).toBeLessThan(size + 3 * 600_000);
  });

  it('restarts cleanly with one stream when the server ignores Range', async () => {
    proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'ignore-range' } : undefined));
    const cache = await newCache();
    const progress: number[] = [];
    let done = 0;
    await fetchVia(cache, { onBytes: (delta) => progress.push((done += delta)) });
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    expect(done).toBe(size);
    // One probing range request answered 200, then one plain stream; no others started.
    expect(blobGets().length).toBe(2);
    expect(blobGets()[1]!.headers.range).toBeUndefined();
  });

  it('honours 429 Retry-After and retries 503', async () => {
    let n = 0;
    proxy.setRule((req) => {
      if (req.method !== 'GET' || !req.path.includes('/blobs/')) return undefined;
      n++;
      if (n === 1) return { kind: 'status', status: 429, headers: { 'retry-after': '1' } };
      if (n <= 3) return { kind: 'status', status: 503 };
      return undefined;
    });
    const cache = await newCache();
    await fetchVia(cache, { connections: 1 });
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    const [limited, afterLimit, afterFirst503, afterSecond503] = blobGets();
    expect(afterSecond503).toBeDefined();
    // The retry after the 429 waited the full second the server asked for.
    expect(afterLimit!.at - limited!.at).toBeGreaterThanOrEqual(950);
    expect(afterSecond503!.headers.range).toBe(afterFirst503!.headers.range);
  });

  it('detects a stalled connection by lack of progress and carries on', async () => {
    let stalls = 0;
    proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') && stalls++ < 2 ? { kind: 'stall', afterBytes: 100_000 } : undefined));
    const cache = await newCache();
    await fetchVia(cache);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
  });

  it('rejects a flipped byte in a parallel download and keeps nothing', async () => {
    proxy.setRule((req) => (req.method === 'GET' && req.headers.range === `bytes=${5 * MiB}-${6 * MiB - 1}` ? { kind: 'flip-byte', at: 5 * MiB + 77 } : undefined));
    const cache = await newCache();
    await expect(fetchVia(cache)).rejects.toThrow(DigestMismatchError);
    expect(await cache.hasBlob(blob.digest)).toBe(false);
    expect(await readdir(cache.layout.ingestDir)).toEqual([]);
  });

  it('resumes an aborted download from its journal, fetching only the rest', async () => {
    const cache = await newCache();
    const abort = new AbortController();
    let first = 0;
    proxy.setRule((req) => (req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 8 * MiB } : undefined));
    await expect(
      fetchVia(cache, {
        signal: abort.signal,
        onBytes: (delta, network) => {
          if (network) first += delta;
          if (first > size / 2) abort.abort(new Error('stop here'));
        },
      }),
    ).rejects.toThrow();
    proxy.setRule(undefined);
    expect(await cache.hasBlob(blob.digest)).toBe(false);
    const second = await fetchVia(cache);
    expect(await cache.hasBlob(blob.digest)).toBe(true);
    expect(first + second).toBeLessThan(size * 1.15);
    expect(second).toBeLessThan(size * 0.6);
  });
});
