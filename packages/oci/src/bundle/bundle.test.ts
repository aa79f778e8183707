// Bundles against the real registry (Debian's docker-registry, CNCF distribution 2.8: no referrers
// API, so referrers travel through the referrers tag) and the real skopeo: a Cider IPSW image with
// an SBOM and a signature of that SBOM, a two-platform index, and an image sharing a layer with it
// from another repository, exported into one tar, checked, imported elsewhere with the same digests,
// and damaged in the ways a bad disk or a hostile sender would.
import { createWriteStream, existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execFileSync } from 'node:child_process';
import { uniqueRepository } from '@cider/services/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, OciError } from '../errors.ts';
import { isIndex, parseManifest, type Descriptor, type ImageIndex } from '../manifest.ts';
import { Annotation } from '../media-types.ts';
import { attachReferrer } from '../image/attach.ts';
import { pushIndex } from '../image/multi-platform.ts';
import { pushImage, pushIpsw } from '../image/publish.ts';
import type { RegistryClient } from '../registry/client.ts';
import { assertValidOci, makeSyntheticIpsw, rewriteTar, skopeo, useRegistryFixture, writeRandomFile, type FaultProxy } from '../../testing/index.ts';
import { blobEntryName } from './layout.ts';
import { exportBundle, importBundle, planBundle, verifyBundle, writeBundle } from './index.ts';
import { bundleReferenceAnnotation, type BundlePlan } from './types.ts';

const MiB = 1024 * 1024;

describe('bundles (real docker-registry, real skopeo)', () => {
  const fixture = useRegistryFixture('bundle', { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  let work: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  const host = () => inject('registryHost');
  const repos = { macos: uniqueRepository('macos'), linux: uniqueRepository('linux'), tools: uniqueRepository('tools') };
  let references: string[];
  let sbom: Descriptor;
  let signature: Descriptor;
  let shared: Digest;
  let big: Digest;
  let ipswLayer: Digest;
  let tar: string;
  let plan: BundlePlan;

  const digestAt = async (repository: string, tag: string) => (await client.repository(host(), repository).fetchManifest(tag)).descriptor.digest;

  beforeAll(async () => {
    ({ work, client, proxy } = fixture);
    const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 2 * MiB });
    const pushedIpsw = await pushIpsw({ client, path: ipsw, repository: `${host()}/${repos.macos}`, tags: ['15.2'] });
    ipswLayer = pushedIpsw.manifest.layers[0]!.digest;
    await writeFile(join(work, 'sbom.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'macos' }));
    sbom = (await attachReferrer({ client, subject: `${host()}/${repos.macos}:15.2`, path: join(work, 'sbom.json'), artifactType: 'application/spdx+json' })).descriptor;
    await writeFile(join(work, 'sbom.sig'), 'signature of the sbom');
    signature = (await attachReferrer({ client, subject: `${host()}/${repos.macos}@${sbom.digest}`, path: join(work, 'sbom.sig'), artifactType: 'application/vnd.example.signature' })).descriptor;

    // A layer shared by the two platform images and by an image of another repository; and one
    // large enough (65 MiB) to be uploaded in chunks on import.
    await writeRandomFile(join(work, 'shared.img'), MiB + 17);
    await writeRandomFile(join(work, 'big.img'), 65 * MiB);
    for (const architecture of ['amd64', 'arm64']) {
      await writeRandomFile(join(work, `${architecture}.img`), MiB);
      await pushImage({
        client,
        repository: `${host()}/${repos.linux}`,
        files: [{ path: join(work, `${architecture}.img`), kind: 'disk' }, { path: join(work, 'shared.img'), kind: 'initramfs' }],
        facts: { os: 'linux', architecture, platform: { os: 'linux', architecture } },
        tags: [architecture],
      });
    }
    await pushIndex({ client, reference: `${host()}/${repos.linux}:stable`, images: [`${host()}/${repos.linux}:amd64`, `${host()}/${repos.linux}:arm64`] });
    const tools = await pushImage({
      client,
      repository: `${host()}/${repos.tools}`,
      files: [{ path: join(work, 'shared.img'), kind: 'initramfs' }, { path: join(work, 'big.img'), kind: 'disk' }],
      facts: { os: 'linux', architecture: 'amd64', platform: { os: 'linux', architecture: 'amd64' } },
      tags: ['v1'],
    });
    shared = tools.manifest.layers[0]!.digest;
    big = tools.manifest.layers[1]!.digest;
    references = [`${host()}/${repos.macos}:15.2`, `${host()}/${repos.linux}:stable`, `${host()}/${repos.tools}:v1`];
    tar = join(work, 'site.tar');
    plan = await exportBundle({ client, references, path: tar });
  });

  it('plans every image, all platforms of an index, and referrers of referrers, each blob once', async () => {
    expect(plan.images.map((i) => [i.refName, i.reference])).toEqual([
      [`${repos.macos}:15.2`, `${host()}/${repos.macos}:15.2`],
      [`${repos.linux}:stable`, `${host()}/${repos.linux}:stable`],
      [`${repos.tools}:v1`, `${host()}/${repos.tools}:v1`],
    ]);
    expect(plan.images[0]!.referrers.map((r) => [r.digest, r.artifactType])).toEqual([
      [sbom.digest, 'application/spdx+json'],
      [signature.digest, 'application/vnd.example.signature'],
    ]);
    const digests = plan.blobs.map((b) => b.digest);
    expect(new Set(digests).size).toBe(digests.length);
    // manifests: macos, sbom, signature, the index and its two children, tools
    expect(plan.blobs.filter((b) => b.kind === 'manifest')).toHaveLength(7);
    expect(plan.blobs.filter((b) => b.digest === shared)).toHaveLength(1);
    const kinds = plan.blobs.map((b) => b.kind);
    expect(kinds).toEqual([...kinds].sort((a, b) => ['manifest', 'config', 'layer'].indexOf(a) - ['manifest', 'config', 'layer'].indexOf(b)));
    expect(plan.contentBytes).toBe(plan.blobs.reduce((s, b) => s + b.size, 0));
  });

  it('writes one OCI image layout tar of exactly tarBytes, valid against the image-spec schemas', async () => {
    expect((await stat(tar)).size).toBe(plan.tarBytes);
    expect(existsSync(`${tar}.partial`)).toBe(false);
    const listed = execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).trim().split('\n');
    expect(listed.slice(0, 4)).toEqual(['oci-layout', 'index.json', 'blobs/', 'blobs/sha256/']);
    expect(listed.slice(4)).toEqual(plan.blobs.map((b) => blobEntryName(b.digest)));
    const out = join(work, 'layout');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    assertValidOci('layout', await readFile(join(out, 'oci-layout')));
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as ImageIndex;
    assertValidOci('index', index);
    expect(index.manifests.map((m) => m.annotations?.[Annotation.refName])).toEqual([`${repos.macos}:15.2`, `${repos.linux}:stable`, `${repos.tools}:v1`, undefined, undefined]);
    expect(index.manifests[0]!.annotations?.[bundleReferenceAnnotation]).toBe(`${host()}/${repos.macos}:15.2`);
    for (const blob of plan.blobs) {
      const bytes = await readFile(join(out, blobEntryName(blob.digest)));
      expect(sha256(bytes)).toBe(blob.digest);
      if (blob.kind === 'manifest') assertValidOci(isIndex(parseManifest(bytes)) ? 'index' : 'manifest', bytes);
    }
  });

  it('verifies a good bundle: every blob re-hashed, every descriptor present', async () => {
    const result = await verifyBundle(tar);
    expect(result.problems).toEqual([]);
    expect(result).toMatchObject({ ok: true, blobs: plan.blobs.length, bytes: plan.contentBytes });
    expect(result.images.map((i) => i.refName)).toEqual(plan.images.map((i) => i.refName));
  });

  it('imports under a prefix with identical digests: blobs once, a shared blob mounted, tags, referrers; a rerun sends nothing', async () => {
    const prefix = uniqueRepository('site');
    const result = await importBundle({ client, path: tar, target: `${proxy.host}/${prefix}` });
    expect(result.images).toEqual(plan.images.map((i) => ({ refName: i.refName, reference: `${proxy.host}/${prefix}/${i.refName}`, digest: i.digest })));
    for (const [i, image] of plan.images.entries()) expect(await digestAt(`${prefix}/${image.repository}`, image.tag!), `image ${i}`).toBe(image.digest);
    // The shared layer went over the wire once, and was mounted into the other repository.
    const uploadsOf = (digest: Digest) => proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/') && r.path.includes(encodeURIComponent(digest)));
    expect(uploadsOf(shared)).toHaveLength(1);
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.path.includes(`mount=${encodeURIComponent(shared)}`) && r.status === 201)).toHaveLength(1);
    expect(result.mounted).toBeGreaterThanOrEqual(1);
    expect(result.uploaded).toBe(new Set(plan.blobs.filter((b) => b.kind !== 'manifest').map((b) => b.digest)).size);
    // Referrers arrive through the referrers tag, the signature still naming the SBOM.
    const imported = client.repository(host(), `${prefix}/${repos.macos}`);
    expect((await imported.listReferrers(plan.images[0]!.digest)).map((d) => d.digest)).toEqual([sbom.digest]);
    expect((await imported.listReferrers(sbom.digest)).map((d) => d.digest)).toEqual([signature.digest]);
    // Every platform of the index came along.
    const index = (await client.repository(host(), `${prefix}/${repos.linux}`).fetchManifest('stable')).manifest as ImageIndex;
    for (const child of index.manifests) expect((await client.repository(host(), `${prefix}/${repos.linux}`).fetchManifest(child.digest)).descriptor.digest).toBe(child.digest);

    proxy.requests.length = 0;
    const again = await importBundle({ client, path: tar, target: `${proxy.host}/${prefix}` });
    expect(again).toMatchObject({ uploaded: 0, mounted: 0, bytesUploaded: 0 });
    expect(again.skipped).toBe(result.uploaded + result.mounted + result.skipped);
    expect(proxy.requests.filter((r) => r.path.includes('/blobs/uploads/'))).toEqual([]);
  });

  it.each([
    { what: 'a small blob (one PUT)', blob: () => ipswLayer },
    { what: 'a 65 MiB blob (chunked PATCHes)', blob: () => big },
  ])('refuses to import $what that does not match its digest, cancels its upload and names it', async ({ blob }) => {
    const digest = blob();
    const bad = join(work, `bad-${digest.slice(7, 15)}.tar`);
    await rewriteTar(tar, bad, (entry, data) => {
      if (entry.name !== blobEntryName(digest)) return undefined;
      const copy = Buffer.from(data);
      copy[copy.length - 1] = copy[copy.length - 1]! ^ 0xff; // the very last byte: caught before the registry gets it
      return { data: copy };
    });
    const prefix = uniqueRepository('tampered');
    const error = await importBundle({ client, path: bad, target: `${proxy.host}/${prefix}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toContain(`blob ${digest} in ${bad} does not match its digest`);
    const target = plan.blobs.find((b) => b.digest === digest)!.repository;
    expect(await client.repository(host(), `${prefix}/${target}`).blobExists(digest)).toBeUndefined();
    const uploads = proxy.requests.filter((r) => r.path.includes('/blobs/uploads/'));
    expect(uploads.some((r) => r.method === 'DELETE')).toBe(true); // the session was cancelled
    expect(uploads.some((r) => r.method === 'PUT' && r.path.includes(encodeURIComponent(digest)) && r.status === 201)).toBe(false);

    const verified = await verifyBundle(bad);
    expect(verified.ok).toBe(false);
    expect(verified.problems).toEqual([{ digest, reason: expect.stringMatching(/^does not match its digest: its \d+ bytes hash to sha256:[0-9a-f]{64}/) as string }]);
  });

  it('verify names missing blobs, wrong sizes, and entries outside the layout', async () => {
    const config = plan.blobs.find((b) => b.kind === 'config')!;
    const broken = join(work, 'broken.tar');
    await rewriteTar(
      tar,
      broken,
      (entry, data) => (entry.name === blobEntryName(shared) ? { drop: true } : entry.name === blobEntryName(config.digest) ? { data: data.subarray(1) } : undefined),
      [{ name: '../../etc/evil', data: Buffer.from('x') }],
    );
    const result = await verifyBundle(broken);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(
      expect.arrayContaining([
        { entry: '../../etc/evil', reason: 'a name outside the layout (ignored; nothing is extracted)' },
        { digest: shared, reason: expect.stringMatching(/^missing \(named by manifest sha256:/) as string },
        { digest: config.digest, reason: `${config.size - 1} bytes in the tar, but manifest ${plan.images[0]!.digest} says ${config.size}` },
      ]),
    );
    const refused = await importBundle({ client, path: broken, target: `${host()}/x` }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OciError);
    expect((refused as OciError).code).toBe('INVALID_BUNDLE');
    expect((refused as Error).message).toContain(`${shared}: missing`);
  });

  it('verify and import refuse a hostile index.json instead of reading it', async () => {
    const huge = join(work, 'huge-index.tar');
    await rewriteTar(tar, huge, (entry) => (entry.name === 'index.json' ? { data: Buffer.alloc(5 * MiB, 0x20) } : undefined));
    const result = await verifyBundle(huge);
    expect(result.problems).toEqual([{ entry: 'index.json', reason: 'index.json is 5242880 bytes; at most 4194304 are read.' }]);
    const notTar = join(work, 'not.tar');
    await writeFile(notTar, 'hello\n'.repeat(1000));
    expect((await verifyBundle(notTar)).problems[0]!.reason).toMatch(/is not a readable tar: a header checksum that does not match/);
    await expect(importBundle({ client, path: notTar, target: host() })).rejects.toThrow(/not a readable tar/);
  });

  it('writes a bundle as an HTTP download of exactly Content-Length bytes, and stops when the client goes away', async () => {
    const small = await planBundle({ client, references: [`${host()}/${repos.tools}:v1`] });
    let lastWrite: Promise<void> | undefined;
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-tar', 'content-length': String(small.tarBytes) });
      lastWrite = writeBundle(small, { client, output: res });
      lastWrite.then(() => res.end(), () => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const file = join(work, 'download.tar');
      await new Promise<void>((resolve, reject) => get(url, (res) => void pipeline(res, createWriteStream(file)).then(resolve, reject)).on('error', reject));
      expect((await stat(file)).size).toBe(small.tarBytes);
      expect((await verifyBundle(file)).ok).toBe(true);

      // A client that leaves after 1 MiB: the write fails instead of waiting forever.
      await new Promise<void>((resolve) => {
        const req = get(url, (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > MiB) {
              req.destroy();
              resolve();
            }
          });
        });
        req.on('error', () => {});
      });
      await expect(lastWrite).rejects.toThrow(/closed before the bundle was complete/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails an export whose blob does not match its digest, leaving no file behind', async () => {
    const path = join(work, 'flipped.tar');
    proxy.setRule((r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${big}`) ? { kind: 'flip-byte', at: 40 * MiB } : undefined));
    const error = await exportBundle({ client, references: [`${proxy.host}/${repos.tools}:v1`], path }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as Error).message).toContain(`blob ${big} of ${proxy.host}/${repos.tools} does not match its digest`);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('resumes a blob whose connection drops mid-way with a Range request', async () => {
    const path = join(work, 'dropped.tar');
    proxy.setRule((r) => (r.method === 'GET' && r.path.endsWith(`/blobs/${big}`) && r.headers.range === undefined ? { kind: 'drop', afterBytes: 20 * MiB } : undefined));
    await exportBundle({ client, references: [`${proxy.host}/${repos.tools}:v1`], path });
    const ranged = proxy.requests.filter((r) => r.path.endsWith(`/blobs/${big}`) && r.headers.range !== undefined);
    expect(ranged.length).toBe(1);
    expect(ranged[0]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect((await verifyBundle(path)).ok).toBe(true);
  });

  it('leaves referrers out when asked, and removes its .partial when it is cancelled mid-way', async () => {
    const bare = await planBundle({ client, references, referrers: false });
    expect(bare.images.every((i) => i.referrers.length === 0)).toBe(true);
    expect(bare.blobs.map((b) => b.digest)).not.toContain(sbom.digest);
    const path = join(work, 'cancelled.tar');
    const stop = new AbortController();
    const error = await exportBundle({
      client,
      references: [`${host()}/${repos.tools}:v1`],
      path,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.bytesDone > 8 * MiB) stop.abort(new Error('cancelled by the test'));
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('cancelled by the test');
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('never overwrites: an existing file, or a .partial another export holds, stops it before any download', async () => {
    const path = join(work, 'taken.tar');
    await writeFile(path, 'mine');
    await expect(exportBundle({ client, references, path })).rejects.toThrow(`${path} already exists: a bundle never overwrites a file`);
    expect(await readFile(path, 'utf8')).toBe('mine');
    const other = join(work, 'busy.tar');
    await writeFile(`${other}.partial`, '');
    const busy = await exportBundle({ client, references: [`${host()}/${repos.tools}:v1`], path: other }).catch((e: unknown) => e);
    expect((busy as OciError).code).toBe('BUSY');
    expect(existsSync(other)).toBe(false);
  });

  it('skopeo copies an image out of the bundle by its ref name, digest unchanged', async () => {
    for (const image of [plan.images[0]!, plan.images[2]!]) {
      const destination = `${uniqueRepository('skopeo')}`;
      await skopeo(['copy', '--dest-tls-verify=false', `oci-archive:${tar}:${image.refName}`, `docker://${host()}/${destination}:copied`]);
      expect(await digestAt(destination, 'copied')).toBe(image.digest);
    }
  });

  it("imports a tar skopeo made (a tag-only ref name: the prefix is the repository), and explains the rule when there is none", async () => {
    const made = join(work, 'skopeo.tar');
    const source = plan.images[2]!;
    await skopeo(['copy', '--src-tls-verify=false', `docker://${host()}/${repos.tools}:v1`, `oci-archive:${made}:v1`]);
    const missing = await importBundle({ client, path: made, target: host() }).catch((e: unknown) => e);
    expect((missing as Error).message).toContain('The bundle names an image only by the tag "v1" (skopeo writes oci-archive names so), without a repository.');
    const repository = uniqueRepository('from-skopeo');
    const result = await importBundle({ client, path: made, target: `${host()}/${repository}` });
    expect(result.images).toEqual([{ refName: 'v1', reference: `${host()}/${repository}:v1`, digest: source.digest }]);
    expect(await digestAt(repository, 'v1')).toBe(source.digest);
    expect((await verifyBundle(made)).ok).toBe(true);
  });
});
