// Interop with skopeo (containers/image), a real peer: it reads our cache as an OCI layout and
// copies out of it, and what it pushes pulls with ours, Docker v2 manifests included.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { fsck } from './cache/maintenance.ts';
import { CiderMediaType, MediaType } from './media-types.ts';
import { pull } from './pull.ts';
import { pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { writeRandomFile } from '../testing/index.ts';

const run = promisify(execFile);
const skopeo = (...args: string[]) => run('skopeo', args, { maxBuffer: 16 * 1024 * 1024 });

/** A one-file tar archive (ustar), enough for a real container image layer. */
function tarWith(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

describe('interop with skopeo (real skopeo, real registry)', () => {
  let work: string;
  let client: RegistryClient;
  const host = () => inject('registryHost');
  const repository = uniqueRepository('interop');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-interop-'));
    client = new RegistryClient();
  });
  afterAll(async () => {
    await client.close();
    await rm(work, { recursive: true, force: true });
  });

  it('skopeo reads a Cider image in our cache and copies it out, digests preserved', async () => {
    const file = join(work, 'UniversalMac_15.2_24C101_Restore.ipsw');
    await writeRandomFile(file, 2 * 1024 * 1024);
    const config = Buffer.from(JSON.stringify({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64' }));
    const pushed = await pushArtifact({
      client,
      reference: `${host()}/${repository}:15.2`,
      files: [{ path: file, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: config },
    });
    const cacheDir = join(work, 'cache');
    await pull({ client, cache: await HostCache.open(cacheDir), reference: `${host()}/${repository}:15.2` });

    // The exact manifest bytes come back out of our layout.
    const raw = (await skopeo('inspect', '--raw', `oci:${cacheDir}:15.2`)).stdout;
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(pushed.digest);
    // Plain `inspect` reads an image config, which artifacts have not: containers/image refuses
    // them by design (and so docker and podman refuse to run a Cider image, which is right).
    await expect(skopeo('inspect', `oci:${cacheDir}:15.2`)).rejects.toThrow(/unsupported image-specific operation on artifact/);

    await skopeo('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${cacheDir}:15.2`, `docker://${host()}/${repository}-copy:15.2`);
    const copied = await client.repository(host(), `${repository}-copy`).resolve('15.2');
    expect(copied.digest).toBe(pushed.digest);
  });

  it('pulls what skopeo pushed, including a Docker v2 schema 2 image', async () => {
    // A real (tiny) container image: OCI config and a gzipped tar layer, converted by skopeo.
    const layer = gzipSync(tarWith('hello.txt', Buffer.from('hello from a layer\n')));
    const diffId = `sha256:${createHash('sha256').update(tarWith('hello.txt', Buffer.from('hello from a layer\n'))).digest('hex')}`;
    const layerFile = join(work, 'layer.tar.gz');
    await writeFile(layerFile, layer);
    const imageConfig = {
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'cider test' }],
    };
    await pushArtifact({
      client,
      reference: `${host()}/${repository}-img:oci`,
      files: [{ path: layerFile, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
      config: { mediaType: MediaType.ociConfig, bytes: Buffer.from(JSON.stringify(imageConfig)) },
    });
    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--format', 'v2s2', `docker://${host()}/${repository}-img:oci`, `docker://${host()}/${repository}-img:v2s2`);

    const cache = await HostCache.open(join(work, 'cache-v2'));
    const result = await pull({ client, cache, reference: `${host()}/${repository}-img:v2s2` });
    const [image] = await cache.listImages();
    expect(image?.mediaType).toBe(MediaType.dockerManifest);
    expect(result.digest).toBe((await client.repository(host(), `${repository}-img`).resolve('v2s2')).digest);
    expect((await fsck(cache)).ok).toBe(true);

    // A container image (OCI media types; containers/image reads only those from a layout) in
    // our cache is inspected in full by skopeo.
    const ociCacheDir = join(work, 'cache-oci');
    const ociPulled = await pull({ client, cache: await HostCache.open(ociCacheDir), reference: `${host()}/${repository}-img:oci` });
    const inspected = JSON.parse((await skopeo('inspect', `oci:${ociCacheDir}:oci`)).stdout) as { Digest: string; Architecture: string; Layers: string[] };
    expect(inspected).toMatchObject({ Digest: ociPulled.digest, Architecture: 'amd64' });
    expect(inspected.Layers).toHaveLength(1);
  });
});
