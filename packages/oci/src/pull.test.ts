import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { DigestMismatchError, InsufficientSpaceError, NotFoundError, UnreachableError } from './errors.ts';
import { CiderMediaType } from './media-types.ts';
import { pull } from './pull.ts';
import { pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { assertValidOci, startFaultProxy, writeRandomFile, type FaultProxy } from '../testing/index.ts';
import { digestFile } from './push.ts';

describe('push and pull against a real registry (docker-registry)', () => {
  let work: string;
  let payload: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  const repository = uniqueRepository('demo');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-oci-'));
    payload = join(work, 'UniversalMac_15.2_24C101_Restore.ipsw');
    await writeRandomFile(payload, 3 * 1024 * 1024 + 17);
    client = new RegistryClient({ retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    proxy = await startFaultProxy(inject('registryUrl'));
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pushes an artifact whose manifest validates, and pulls it into a verified cache', async () => {
    const reference = `${inject('registryHost')}/${repository}:15.2`;
    const config = Buffer.from(JSON.stringify({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64' }));
    const pushed = await pushArtifact({
      client,
      reference,
      files: [{ path: payload, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: config },
    });
    assertValidOci('manifest', pushed.manifest);
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const cache = await HostCache.open(join(work, 'cache'));
    const progress: number[] = [];
    const result = await pull({ client, cache, reference, onProgress: (p) => progress.push(p.bytesDone) });
    expect(result.digest).toBe(pushed.digest);
    expect(result.bytesFetched).toBe(result.size);
    expect(progress.at(-1)).toBe(result.size);

    // Layout files validate against the official schemas.
    assertValidOci('layout', await readFile(join(cache.root, 'oci-layout'), 'utf8'));
    const index = JSON.parse(await readFile(join(cache.root, 'index.json'), 'utf8'));
    assertValidOci('index', index);
    expect(index.manifests).toEqual([
      expect.objectContaining({ digest: pushed.digest, annotations: expect.objectContaining({ 'org.opencontainers.image.ref.name': '15.2' }) }),
    ]);

    // The payload is materialized by name as a hard link to the verified, read-only blob.
    const payloadDigest = (await digestFile(payload)).digest;
    const linked = join(result.imagePath!, 'UniversalMac_15.2_24C101_Restore.ipsw');
    const [linkedStat, blobStat] = await Promise.all([stat(linked), stat(cache.blobPath(payloadDigest))]);
    expect(linkedStat.ino).toBe(blobStat.ino);
    expect(blobStat.mode & 0o222).toBe(0);
    const record = JSON.parse(await readFile(join(result.imagePath!, 'image.json'), 'utf8'));
    expect(record.config).toMatchObject({ version: '15.2', build: '24C101' });

    // A second pull fetches nothing.
    const again = await pull({ client, cache, reference });
    expect(again.bytesFetched).toBe(0);
    const images = await cache.listImages();
    expect(images).toEqual([expect.objectContaining({ digest: pushed.digest, tags: ['15.2'], materialized: true })]);
  });

  it('rejects a tampered byte and never lets it into the cache', async () => {
    const file = join(work, 'tamper.bin');
    await writeRandomFile(file, 512 * 1024);
    const reference = `${inject('registryHost')}/${repository}:tamper`;
    await pushArtifact({ client, reference, files: [{ path: file }] });
    const { digest: blobDigest } = await digestFile(file);

    proxy.setRule((req) => (req.method === 'GET' && req.path.includes(`/blobs/${blobDigest}`) ? { kind: 'flip-byte', at: 1000 } : undefined));
    const cache = await HostCache.open(join(work, 'tamper-cache'));
    const viaProxy = `${proxy.host}/${repository}:tamper`;
    await expect(pull({ client, cache, reference: viaProxy })).rejects.toThrow(DigestMismatchError);
    expect(await cache.hasBlob(blobDigest)).toBe(false);
    expect((await cache.readIndex()).manifests).toEqual([]);
    proxy.setRule(undefined);

    // Without the fault, the same cache pulls it fine.
    const ok = await pull({ client, cache, reference: viaProxy });
    expect(await cache.hasBlob(blobDigest)).toBe(true);
    expect(ok.reference).toBe(viaProxy);
  });

  it('says clearly when a tag does not exist', async () => {
    const cache = await HostCache.open(join(work, 'missing-cache'));
    const error = await pull({ client, cache, reference: `${inject('registryHost')}/${repository}:99.9` }).catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toMatch(/Tag "99.9" not found in .*demo\/.* at 127\.0\.0\.1:\d+/);
  });

  it('says clearly when the registry cannot be reached', async () => {
    const cache = await HostCache.open(join(work, 'unreachable-cache'));
    const error = await pull({ client, cache, reference: '127.0.0.1:1/demo/macos:15.2' }).catch((e) => e);
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.message).toMatch(/Cannot reach registry 127\.0\.0\.1:1 .*connection refused/);
  });

  it('refuses to start when the disk cannot hold the image', async () => {
    const cache = await HostCache.open(join(work, 'full-cache'));
    const reference = `${inject('registryHost')}/${repository}:15.2`;
    const error = await pull({ client, cache, reference, freeSpace: async () => 1024 * 1024 }).catch((e) => e);
    expect(error).toBeInstanceOf(InsufficientSpaceError);
    expect(error.message).toMatch(/needs .* but only 1\.0 MiB is free/);
    expect(await cache.listImages()).toEqual([]);
  });

  it('keeps index.json valid while a tag moves to a new manifest', async () => {
    const cache = await HostCache.open(join(work, 'moving-cache'));
    const file = join(work, 'v2.bin');
    await writeFile(file, 'second version');
    const reference = `${inject('registryHost')}/${repository}:moving`;
    const first = await pushArtifact({ client, reference, files: [{ path: payload }] });
    await pull({ client, cache, reference });
    const second = await pushArtifact({ client, reference, files: [{ path: file }] });
    await pull({ client, cache, reference });
    const index = await cache.readIndex();
    assertValidOci('index', index);
    const byDigest = Object.fromEntries(index.manifests.map((m) => [m.digest, m.annotations?.['org.opencontainers.image.ref.name']]));
    expect(byDigest).toEqual({ [first.digest]: undefined, [second.digest]: 'moving' });
  });
});
