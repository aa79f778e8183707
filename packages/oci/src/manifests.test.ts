// Manifests: platform selection from an index, verification against digests, the size limit.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { sha256 } from './digest.ts';
import { DigestMismatchError, ManifestTooLargeError, OciError } from './errors.ts';
import { encodeManifest, type ImageIndex } from './manifest.ts';
import { MediaType } from './media-types.ts';
import { pull } from './pull.ts';
import { pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { assertValidOci, startFaultProxy, type FaultProxy } from '../testing/index.ts';

describe('manifests (real registry)', () => {
  let work: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  const repository = uniqueRepository('multi');
  const byPlatform: Record<string, string> = {};
  let indexDigest: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-manifests-'));
    client = new RegistryClient({ retry: { retries: 1, baseDelayMs: 10, maxDelayMs: 20 } });
    proxy = await startFaultProxy(inject('registryUrl'));
    const host = inject('registryHost');
    const platforms = [
      { os: 'darwin', architecture: 'arm64' },
      { os: 'linux', architecture: 'amd64' },
    ];
    const manifests = [];
    for (const platform of platforms) {
      const file = join(work, `${platform.os}-${platform.architecture}.img`);
      await writeFile(file, `payload for ${platform.os}/${platform.architecture}`);
      const pushed = await pushArtifact({ client, reference: `${host}/${repository}:${platform.os}-${platform.architecture}`, files: [{ path: file }], artifactType: 'application/vnd.cider.image.v1' });
      byPlatform[`${platform.os}/${platform.architecture}`] = pushed.digest;
      manifests.push({ ...pushed.descriptor, platform });
    }
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    assertValidOci('index', index);
    const encoded = encodeManifest(index);
    await client.repository(host, repository).pushManifest(encoded.bytes, encoded.mediaType, 'multi');
    indexDigest = encoded.digest;
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pulls each platform from one multi-platform tag, keeping the index digest as what the tag names', async () => {
    for (const [platform, digest] of Object.entries(byPlatform)) {
      const [os, architecture] = platform.split('/') as [string, string];
      const cache = await HostCache.open(join(work, `cache-${os}`));
      const result = await pull({ client, cache, reference: `${inject('registryHost')}/${repository}:multi`, platform: { os, architecture } });
      expect(result.digest).toBe(indexDigest);
      expect(result.manifestDigest).toBe(digest);
      const [image] = await cache.listImages();
      expect(image).toMatchObject({ digest: indexDigest, tags: ['multi'], materialized: true });
      assertValidOci('index', await cache.readIndex());
    }
  });

  it('says which platforms exist when the wanted one does not', async () => {
    const cache = await HostCache.open(join(work, 'cache-none'));
    const error = await pull({ client, cache, reference: `${inject('registryHost')}/${repository}:multi`, platform: { os: 'windows', architecture: 'arm64' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).message).toBe('No image for platform windows/arm64 in this index (available: darwin/arm64, linux/amd64)');
  });

  it('rejects a manifest whose bytes do not match the digest it was asked by', async () => {
    const digest = byPlatform['darwin/arm64']!;
    proxy.setRule((req) => (req.method === 'GET' && req.path.endsWith(`/manifests/${digest}`) ? { kind: 'flip-byte', at: 20 } : undefined));
    try {
      await expect(client.repository(proxy.host, repository).fetchManifest(digest)).rejects.toThrow(DigestMismatchError);
    } finally {
      proxy.setRule(undefined);
    }
  });

  describe('against a server that sends oversized or lying manifests', () => {
    let server: Server;
    let host: string;
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    const honest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }));

    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/v2/') return res.writeHead(200).end();
        if (req.url?.endsWith('/manifests/sized')) return res.writeHead(200, { 'content-type': MediaType.ociIndex, 'content-length': big.length }).end(big);
        if (req.url?.endsWith('/manifests/chunked')) {
          res.writeHead(200, { 'content-type': MediaType.ociIndex });
          return res.end(big);
        }
        if (req.url?.endsWith('/manifests/lying')) {
          return res.writeHead(200, { 'content-type': MediaType.ociIndex, 'docker-content-digest': sha256('something else') }).end(honest);
        }
        res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('refuses manifests over 4 MiB, announced or not', async () => {
      const repo = client.repository(host, 'big');
      await expect(repo.fetchManifest('sized')).rejects.toThrow(ManifestTooLargeError);
      const error = (await repo.fetchManifest('chunked').catch((e: unknown) => e)) as ManifestTooLargeError;
      expect(error).toBeInstanceOf(ManifestTooLargeError);
      expect(error.message).toMatch(/limited to 4194304 bytes/);
    });

    it('refuses a manifest that does not match the Docker-Content-Digest the registry sent', async () => {
      await expect(client.repository(host, 'lying').fetchManifest('lying')).rejects.toThrow(DigestMismatchError);
    });
  });
});
