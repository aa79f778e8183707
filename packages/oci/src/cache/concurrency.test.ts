// Several users of one cache at once: two pulls of one digest download it once, a prune never
// takes what a running pull needs, and index.json updates never lose each other.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../digest.ts';
import { pull } from '../pull.ts';
import { digestFile, pushArtifact } from '../push.ts';
import { RegistryClient } from '../registry/client.ts';
import { assertValidOci, startFaultProxy, writeRandomFile, type FaultProxy } from '../../testing/index.ts';
import { HostCache } from './cache.ts';
import { fsck, prune } from './maintenance.ts';

const MiB = 1024 * 1024;

describe('one cache, several processes (real registry)', () => {
  let work: string;
  let proxy: FaultProxy;
  let client: RegistryClient;
  const repository = uniqueRepository('shared');
  const size = 8 * MiB;
  let blobDigest: string;
  let reference: string;
  let caches = 0;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-concurrency-'));
    const file = join(work, 'payload.bin');
    await writeRandomFile(file, size);
    blobDigest = (await digestFile(file)).digest;
    client = new RegistryClient();
    await pushArtifact({ client, reference: `${inject('registryHost')}/${repository}:v1`, files: [{ path: file }] });
    proxy = await startFaultProxy(inject('registryUrl'), (req) =>
      req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 8 * MiB } : undefined,
    );
    reference = `${proxy.host}/${repository}:v1`;
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.requests.length = 0;
  });

  const blobBytesFor = async (run: () => Promise<unknown>) => {
    const before = proxy.blobBytesServed;
    await run();
    return proxy.blobBytesServed - before;
  };

  it('downloads a digest once when two pulls want it at the same time', async () => {
    const root = join(work, `cache-${caches++}`);
    // Two HostCache instances on one folder behave as two processes would: they meet at the locks.
    const [a, b] = await Promise.all([HostCache.open(root), HostCache.open(root)]);
    const served = await blobBytesFor(() => Promise.all([pull({ client, cache: a, reference }), pull({ client, cache: b, reference })]));
    expect(served).toBeLessThan(size * 1.05);
    expect(await a.hasBlob(blobDigest)).toBe(true);
    expect((await fsck(a)).ok).toBe(true);
  });

  it('never lets a prune take what a running pull needs', async () => {
    const root = join(work, `cache-${caches++}`);
    const cache = await HostCache.open(root);
    let pulling = true;
    const prunes: Promise<void>[] = [];
    const removed: string[] = [];
    /** Prunes that finished while the pull was still running: those are the ones that could hurt it. */
    let finishedMidPull = 0;
    const pulled = pull({
      client,
      cache,
      reference,
      onProgress: (p) => {
        // Prune again and again while the blob is half there.
        if (p.phase === 'downloading' && p.bytesDone > 0 && p.bytesDone < size && prunes.length < 5) {
          prunes.push(
            HostCache.open(root)
              .then((other) => prune(other))
              .then((report) => {
                removed.push(...report.removedBlobs.map((b) => b.digest), ...report.removedImages, ...report.removedIngests);
                if (pulling) finishedMidPull++;
              }),
          );
        }
      },
    });
    await pulled.finally(() => {
      pulling = false;
    });
    await Promise.all(prunes);
    expect(prunes.length).toBeGreaterThan(0);
    expect(finishedMidPull).toBeGreaterThan(0);
    expect(removed).toEqual([]);
    expect((await fsck(cache)).ok).toBe(true);
    expect(await cache.hasBlob(blobDigest)).toBe(true);
    expect((await cache.listImages()).map((i) => i.tags)).toEqual([['v1']]);
  });

  it('keeps every index.json update when many writers race', async () => {
    const root = join(work, `cache-${caches++}`);
    const writers = await Promise.all([HostCache.open(root), HostCache.open(root), HostCache.open(root)]);
    const manifests = Array.from({ length: 12 }, (_, i) => Buffer.from(JSON.stringify({ schemaVersion: 2, n: i })));
    await Promise.all(
      manifests.map(async (bytes, i) => {
        const cache = writers[i % writers.length]!;
        const digest = sha256(bytes);
        await cache.putBlob(digest, bytes);
        await cache.addToIndex({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: bytes.length }, { tag: `t${i}` });
      }),
    );
    const index = await writers[0]!.readIndex();
    assertValidOci('index', index);
    expect(index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']).sort()).toEqual(manifests.map((_, i) => `t${i}`).sort());
  });
});
