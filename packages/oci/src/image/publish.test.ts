// Publishing images against the real registry, and pulling them back: IPSWs with their facts,
// piece-verified pulls that refetch only a bad piece, payloads split for registries that cap a
// layer, multi-platform indexes, and the immutable-tags policy.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from '../cache/cache.ts';
import { fsck } from '../cache/maintenance.ts';
import { isOciError } from '../errors.ts';
import type { ImageIndex, ImageManifest } from '../manifest.ts';
import { CiderMediaType } from '../media-types.ts';
import { hostPlatform } from '../platform.ts';
import { pull } from '../pull.ts';
import { digestFile, pushArtifact } from '../push.ts';
import type { RegistryClient } from '../registry/client.ts';
import { assertValidOci, makeSyntheticIpsw, useRegistryFixture, writeRandomFile, type FaultProxy } from '../../testing/index.ts';
import { payloadFilesOf } from './config.ts';
import { pushIndex } from './multi-platform.ts';
import { partAnnotation, pushImage, pushIpsw } from './publish.ts';

const MiB = 1024 * 1024;

function bytesRead(): number | undefined {
  if (!existsSync('/proc/self/io')) return undefined;
  const match = /rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return match ? Number(match[1]) : undefined;
}

async function manifestOf(client: RegistryClient, reference: string): Promise<{ manifest: ImageManifest | ImageIndex; digest: string }> {
  const [host, ...rest] = reference.split('/');
  const path = rest.join('/');
  const [repository, tag] = path.split(':') as [string, string];
  const fetched = await client.repository(host!, repository).fetchManifest(tag);
  return { manifest: fetched.manifest, digest: fetched.descriptor.digest };
}

describe('image packaging (real docker-registry)', () => {
  const fixture = useRegistryFixture('image', { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  let work: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  const host = () => inject('registryHost');

  beforeAll(() => {
    ({ work, client, proxy } = fixture);
  });

  it.each([{ payloadBytes: 2 * MiB }, { payloadBytes: 24 * MiB }])(
    'pushes an IPSW of $payloadBytes payload bytes with its facts, reading it once, and pulls it back',
    async ({ payloadBytes }) => {
      const path = await makeSyntheticIpsw({ dir: work, payloadBytes, name: `UniversalMac_15.2_24C101_${payloadBytes}.ipsw` });
      const repository = uniqueRepository('macos');
      const before = bytesRead();
      const pushed = await pushIpsw({ client, path, repository: `${host()}/${repository}`, source: 'https://updates.cdn-apple.com/example.ipsw' });
      const after = bytesRead();
      const { size } = await stat(path);
      // Hashed while uploading: the file is read once (plus the zip directory and plists), not twice.
      if (before !== undefined && after !== undefined) expect(after - before).toBeLessThan(size * 1.3 + MiB);

      expect(pushed.references).toEqual([`${host()}/${repository}:15.2`, `${host()}/${repository}:15.2-24C101`]);
      assertValidOci('manifest', pushed.manifest);
      expect(pushed.manifest.artifactType).toBe(CiderMediaType.artifact);
      expect(pushed.manifest.config.mediaType).toBe(CiderMediaType.config);
      expect(pushed.manifest.layers).toEqual([
        expect.objectContaining({ mediaType: CiderMediaType.ipsw, size, annotations: { 'org.opencontainers.image.title': `UniversalMac_15.2_24C101_${payloadBytes}.ipsw` } }),
      ]);
      const { digest: fileDigest } = await digestFile(path);
      expect(pushed.manifest.layers[0]!.digest).toBe(fileDigest);
      expect(pushed.manifest.annotations).toMatchObject({
        'org.opencontainers.image.version': '15.2',
        'org.opencontainers.image.title': 'macOS 15.2 (24C101)',
        'org.opencontainers.image.source': 'https://updates.cdn-apple.com/example.ipsw',
        'org.opencontainers.image.created': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(pushed.config).toMatchObject({
        os: 'macOS',
        version: '15.2',
        build: '24C101',
        architecture: 'arm64',
        platform: { os: 'darwin', architecture: 'arm64' },
        payload: { name: `UniversalMac_15.2_24C101_${payloadBytes}.ipsw`, size },
      });
      expect(pushed.config.devices).toContain('VirtualMac2,1');
      // Piece digests: one per 64 MiB piece, each the sha256 of that range.
      const file = pushed.config.files[0]!;
      expect(file.digest).toBe(fileDigest);
      expect(file.parts).toHaveLength(1);
      expect(file.parts[0]!.pieces).toEqual([`sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`]);
      // Both tags name the same manifest.
      for (const reference of pushed.references) expect((await manifestOf(client, reference)).digest).toBe(pushed.digest);

      const cache = await HostCache.open(join(work, `cache-${payloadBytes}`));
      const result = await pull({ client, cache, reference: pushed.references[0]!, platform: { os: 'darwin', architecture: 'arm64' } });
      expect(result.manifestDigest).toBe(pushed.digest);
      const materialized = join(result.imagePath!, `UniversalMac_15.2_24C101_${payloadBytes}.ipsw`);
      expect((await digestFile(materialized)).digest).toBe(fileDigest);
      const record = JSON.parse(await readFile(join(result.imagePath!, 'image.json'), 'utf8'));
      expect(record.config).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101' });
    },
  );

  /** Pushes a random linux/amd64 disk image of `size` bytes in 4 MiB pieces as `<repository>:v1`; returns its one layer. */
  async function pushDisk(name: string, size: number, repository: string) {
    const path = join(work, name);
    await writeRandomFile(path, size);
    const pushed = await pushImage({
      client,
      repository: `${host()}/${repository}`,
      files: [{ path, kind: 'disk' }],
      facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      tags: ['v1'],
      pieceSize: 4 * MiB,
    });
    return pushed.config.files[0]!.parts[0]!;
  }

  it('verifies each piece as it lands and fetches only a bad piece again', async () => {
    const repository = uniqueRepository('pieces');
    const part = await pushDisk('disk.img', 40 * MiB + 123, repository);
    expect(part.pieces).toHaveLength(11);

    // The first response that carries byte 21 MiB + 5 has it flipped; the whole-blob digest alone
    // would throw all 40 MiB away, the pieces cost one 4 MiB piece.
    const flipAt = 21 * MiB + 5;
    let flipped = false;
    proxy.setRule((request) => {
      if (flipped || request.method !== 'GET' || !request.path.includes(`/blobs/${part.digest}`)) return undefined;
      const range = /bytes=(\d+)-(\d*)/.exec(String(request.headers.range ?? ''));
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) : Number.MAX_SAFE_INTEGER;
      if (flipAt < start || flipAt > end) return undefined;
      flipped = true;
      return { kind: 'flip-byte', at: flipAt };
    });
    const cache = await HostCache.open(join(work, 'cache-pieces'));
    const result = await pull({ client, cache, reference: `${proxy.host}/${repository}:v1`, platform: { os: 'linux', architecture: 'amd64' } });
    expect(flipped).toBe(true);
    expect(result.bytesFetched).toBeGreaterThan(result.size);
    expect(result.bytesFetched).toBeLessThanOrEqual(result.size + 4 * MiB);
    expect((await digestFile(join(result.imagePath!, 'disk.img'))).digest).toBe(part.digest);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('gives up with a clear error when a piece keeps coming back wrong, keeping nothing unverified', async () => {
    const repository = uniqueRepository('bad-piece');
    const { digest } = await pushDisk('always-bad.img', 40 * MiB, repository);
    proxy.setRule((request) => (request.method === 'GET' && request.path.includes(`/blobs/${digest}`) ? { kind: 'flip-byte', at: 9 * MiB } : undefined));
    const cache = await HostCache.open(join(work, 'cache-bad-piece'));
    const error = await pull({ client, cache, reference: `${proxy.host}/${repository}:v1`, platform: { os: 'linux', architecture: 'amd64' } }).catch((e: unknown) => e as Error);
    expect(isOciError(error, 'DIGEST_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(/piece 2 \(bytes 8388608-12582911\)/);
    expect(await cache.hasBlob(digest)).toBe(false);
  });

  it('splits a payload into ordered layers with --chunk-size and joins them when materializing', async () => {
    const path = await makeSyntheticIpsw({ dir: work, payloadBytes: 20 * MiB, name: 'split.ipsw' });
    const repository = uniqueRepository('split');
    const pushed = await pushIpsw({ client, path, repository: `${host()}/${repository}`, tags: ['15.2'], chunkSize: 8 * MiB });
    assertValidOci('manifest', pushed.manifest);
    const { size } = await stat(path);
    const count = Math.ceil(size / (8 * MiB));
    expect(pushed.manifest.layers).toHaveLength(count);
    expect(pushed.manifest.layers.map((l) => l.annotations?.[partAnnotation])).toEqual(Array.from({ length: count }, (_, i) => `${i + 1}/${count}`));
    expect(pushed.manifest.layers.every((l) => l.size <= 8 * MiB)).toBe(true);
    const file = payloadFilesOf(pushed.config)![0]!;
    expect(file.digest).toBe((await digestFile(path)).digest);
    expect(file.parts.map((p) => p.digest)).toEqual(pushed.manifest.layers.map((l) => l.digest));

    const cache = await HostCache.open(join(work, 'cache-split'));
    const result = await pull({ client, cache, reference: `${host()}/${repository}:15.2`, platform: { os: 'darwin', architecture: 'arm64' } });
    const joined = join(result.imagePath!, 'split.ipsw');
    expect((await digestFile(joined)).digest).toBe(file.digest);
    expect((await stat(joined)).mode & 0o777).toBe(0o444);
    expect((await fsck(cache)).ok).toBe(true);
  });

  it('imports other OS images, combines platforms in one index, and pulls each platform', async () => {
    const repository = uniqueRepository('linux');
    const kinds = ['kernel', 'initramfs', 'squashfs', 'cmdline'] as const;
    const pushedByArch = new Map<string, Awaited<ReturnType<typeof pushImage>>>();
    for (const architecture of ['amd64', 'arm64']) {
      const files = [];
      for (const kind of kinds) {
        const path = join(work, `${architecture}-${kind}`);
        await writeRandomFile(path, kind === 'cmdline' ? 40 : kind === 'squashfs' ? 6 * MiB : 300 * 1024);
        files.push({ path, kind, name: kind === 'cmdline' ? 'cmdline.txt' : kind });
      }
      const pushed = await pushImage({
        client,
        repository: `${host()}/${repository}`,
        files,
        facts: { os: 'linux', version: '1592.4', architecture, platform: { os: 'linux', architecture } },
        tags: [`1592.4-${architecture}`],
      });
      assertValidOci('manifest', pushed.manifest);
      expect(pushed.manifest.layers.map((l) => l.mediaType)).toEqual([
        'application/vnd.ironcore.image.kernel',
        'application/vnd.ironcore.image.initramfs',
        'application/vnd.ironcore.image.squashfs',
        'application/vnd.ironcore.image.cmdline',
      ]);
      pushedByArch.set(architecture, pushed);
    }
    // The macOS IPSW joins the same tag from another repository: it is mounted, not re-sent.
    const ipswRepository = uniqueRepository('macos-for-index');
    const ipsw = await pushIpsw({ client, path: await makeSyntheticIpsw({ dir: work, payloadBytes: MiB, name: 'index.ipsw' }), repository: `${host()}/${ipswRepository}`, tags: ['15.2'] });

    const index = await pushIndex({
      client,
      reference: `${host()}/${repository}:stable`,
      images: [`${host()}/${repository}:1592.4-amd64`, `${host()}/${repository}:1592.4-arm64`, `${host()}/${ipswRepository}:15.2`],
    });
    assertValidOci('index', index.index);
    expect(index.index.manifests.map((m) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'darwin', architecture: 'arm64' },
    ]);
    expect(index.index.artifactType).toBe(CiderMediaType.artifact);

    const pulled = new Map<string, string>();
    for (const platform of [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'darwin', architecture: 'arm64' },
    ]) {
      const cache = await HostCache.open(join(work, `cache-${platform.os}-${platform.architecture}`));
      const result = await pull({ client, cache, reference: `${host()}/${repository}:stable`, platform });
      expect(result.digest).toBe(index.digest);
      pulled.set(`${platform.os}/${platform.architecture}`, result.manifestDigest);
      const cached = JSON.parse(await readFile(join(cache.root, 'index.json'), 'utf8'));
      assertValidOci('index', cached);
    }
    expect(pulled.get('linux/amd64')).toBe(pushedByArch.get('amd64')!.digest);
    expect(pulled.get('linux/arm64')).toBe(pushedByArch.get('arm64')!.digest);
    expect(pulled.get('darwin/arm64')).toBe(ipsw.digest);

    // Without --platform a pull takes the host's own (this Linux machine: linux/amd64 or linux/arm64).
    const host_ = hostPlatform();
    const own = await pull({ client, cache: await HostCache.open(join(work, 'cache-host')), reference: `${host()}/${repository}:stable` });
    expect(host_.os).toBe('linux');
    expect(own.manifestDigest).toBe(pushedByArch.get(host_.architecture)!.digest);

    // Two images of one platform cannot share an index.
    const clash = await pushIndex({ client, reference: `${host()}/${repository}:clash`, images: [`${host()}/${repository}:1592.4-amd64`, `${host()}/${repository}:1592.4-amd64`] }).catch((e: unknown) => e as Error);
    expect((clash as Error).message).toMatch(/are both for linux\/amd64/);
  });

  it('with immutable tags, refuses to move an existing tag before sending a byte', async () => {
    const repository = uniqueRepository('immutable');
    const path = await makeSyntheticIpsw({ dir: work, payloadBytes: MiB, name: 'immutable.ipsw' });
    const first = await pushIpsw({ client, path, repository: `${host()}/${repository}`, immutableTags: true });
    const rebuilt = await makeSyntheticIpsw({ dir: work, payloadBytes: MiB, name: 'immutable-2.ipsw' });
    proxy.requests.length = 0;
    const error = await pushIpsw({ client, path: rebuilt, repository: `${proxy.host}/${repository}`, immutableTags: true }).catch((e: unknown) => e as Error);
    expect(isOciError(error, 'TAG_IMMUTABLE')).toBe(true);
    expect((error as Error).message).toMatch(/Tag "15\.2" already exists in .* and this registry has immutable tags: nothing was pushed/);
    expect(proxy.requests.filter((r) => r.method !== 'HEAD' && r.method !== 'GET')).toEqual([]);
    expect((await manifestOf(client, `${host()}/${repository}:15.2`)).digest).toBe(first.digest);
    // A new tag is fine.
    const next = await pushIpsw({ client, path: rebuilt, repository: `${host()}/${repository}`, immutableTags: true, tags: ['15.2-rebuild'] });
    expect(next.references).toEqual([`${host()}/${repository}:15.2-rebuild`]);
    // Without the policy the tag moves, as registries do.
    const moved = await pushIpsw({ client, path: rebuilt, repository: `${host()}/${repository}` });
    expect((await manifestOf(client, `${host()}/${repository}:15.2`)).digest).toBe(moved.digest);
  });

  it('refuses to pull an image whose config describes files that are not its layers', async () => {
    const path = join(work, 'liar.img');
    await writeRandomFile(path, 1024);
    const { digest, size } = await digestFile(path);
    const stranger = `sha256:${'ab'.repeat(32)}`;
    const config = { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' }, created: new Date().toISOString(), payload: { name: 'liar.img', size }, files: [{ name: 'liar.img', kind: 'disk', mediaType: 'application/vnd.ironcore.image.disk.img', size, digest, pieceSize: 1024 * 1024, parts: [{ digest: stranger, size, pieces: [stranger] }] }] };
    const repository = uniqueRepository('liar');
    await pushArtifact({ client, reference: `${host()}/${repository}:v1`, files: [{ path }], artifactType: CiderMediaType.artifact, config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify(config)) } });
    const cache = await HostCache.open(join(work, 'cache-liar'));
    await expect(pull({ client, cache, reference: `${host()}/${repository}:v1` })).rejects.toThrow(/describes liar\.img with a part \(sha256:abab.*\) that is not one of its layers/);
    expect(await cache.listImages()).toEqual([]);
  });

  it('says what is wrong with bad input', async () => {
    const repository = `${host()}/${uniqueRepository('bad')}`;
    const notIpsw = join(work, 'not-an.ipsw');
    await writeRandomFile(notIpsw, 4096);
    await expect(pushIpsw({ client, path: notIpsw, repository })).rejects.toThrow(/not-an\.ipsw is not a usable IPSW: it is not a zip archive/);
    await expect(pushIpsw({ client, path: notIpsw, repository, tags: ['bad tag'] })).rejects.toThrow(/not a usable IPSW/);
    const path = await makeSyntheticIpsw({ dir: work, payloadBytes: 1024, name: 'ok.ipsw' });
    await expect(pushIpsw({ client, path, repository, tags: ['-bad'] })).rejects.toThrow(/Invalid tag "-bad"/);
    await expect(pushIpsw({ client, path, repository, chunkSize: 100 })).rejects.toThrow(/--chunk-size must be at least 1 MiB/);
    await expect(pushIpsw({ client, path, repository: `${repository}@sha256:${'0'.repeat(64)}` })).rejects.toThrow(/not a digest/);
  });
});
