// One behaviour for every source (../source.ts): the registry client, the in-memory store, and
// later peers, mirrors and bundles. A test file calls describeSourceConformance with a factory for
// the store under test; the suite seeds it through its Pusher, then reads everything back through
// the other capabilities and pulls an image from it into a real HostCache.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostCache } from '../src/cache/cache.ts';
import { fsck } from '../src/cache/maintenance.ts';
import { sha256, type Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import { emptyConfig, encodeManifest, type Descriptor, type ImageManifest } from '../src/manifest.ts';
import { MediaType } from '../src/media-types.ts';
import { pull } from '../src/pull.ts';
import { isReferrersTag } from '../src/registry/referrers.ts';
import type { BlobRange, BlobSource, RepositorySource, RepositoryStore } from '../src/source.ts';

export interface ConformanceSubject {
  store: RepositoryStore;
  close?: () => Promise<void>;
}

const KiB = 1024;
const signatureType = 'application/vnd.cider.test.signature';

async function readAll(source: BlobSource, digest: Digest, range?: BlobRange): Promise<{ status: number; offset: number; bytes: Buffer }> {
  const read = await source.fetchBlob(digest, range);
  const chunks: Buffer[] = [];
  await read.body.consume((chunk) => void chunks.push(Buffer.from(chunk)));
  return { status: read.status, offset: read.offset, bytes: Buffer.concat(chunks) };
}

async function rejection(promise: Promise<unknown>): Promise<OciError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a rejection').toBeInstanceOf(OciError);
  return error as OciError;
}

async function pushBytes(repo: RepositorySource, bytes: Buffer): Promise<Descriptor> {
  await repo.pushBlob({ digest: sha256(bytes), size: bytes.length, open: () => bytes });
  return { mediaType: MediaType.octetStream, digest: sha256(bytes), size: bytes.length };
}

/** An image of one layer with the empty config, pushed by tag; returns what a reader should get back. */
async function pushImage(repo: RepositorySource, layer: Buffer, tag: string): Promise<{ manifest: ImageManifest; bytes: Buffer; digest: Digest; mediaType: string }> {
  const layerDescriptor = await pushBytes(repo, layer);
  await pushBytes(repo, emptyConfig.bytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: 'application/vnd.cider.test.image',
    config: emptyConfig.descriptor,
    layers: [{ ...layerDescriptor, annotations: { 'org.opencontainers.image.title': 'payload.bin' } }],
  };
  const encoded = encodeManifest(manifest);
  await repo.pushManifest(encoded.bytes, encoded.mediaType, tag);
  return { manifest, bytes: encoded.bytes, digest: encoded.digest, mediaType: encoded.mediaType };
}

/**
 * The behaviour every RepositoryStore must have. `factory` is called once for the file; each run
 * uses repositories of its own (a random prefix), so a shared registry may hold others.
 */
export function describeSourceConformance(name: string, factory: () => ConformanceSubject | Promise<ConformanceSubject>): void {
  describe(`source conformance: ${name}`, () => {
    const prefix = `conformance/${randomBytes(5).toString('hex')}`;
    const names = { main: `${prefix}/main`, other: `${prefix}/other`, pushed: `${prefix}/pushed` };
    const tags = ['v1', 'v2', 'v3', 'v4', 'v5'];
    // 300 KiB and 7 bytes: not a multiple of any chunk or segment size.
    const layer = randomBytes(300 * KiB + 7);
    let subject: ConformanceSubject;
    let repo: RepositorySource;
    let image: Awaited<ReturnType<typeof pushImage>>;
    let referrer: { digest: Digest; bytes: Buffer };
    let work: string;

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'cider-conformance-'));
      subject = await factory();
      repo = subject.store.repository(names.main);
      image = await pushImage(repo, layer, tags[0]!);
      for (const tag of tags.slice(1)) await repo.pushManifest(image.bytes, image.mediaType, tag);
      await pushImage(subject.store.repository(names.other), randomBytes(100), 'v1');
      const signature = encodeManifest({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: signatureType,
        config: emptyConfig.descriptor,
        layers: [emptyConfig.descriptor],
        subject: { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length },
        annotations: { 'org.example.signed-by': 'conformance' },
      });
      await repo.pushReferrer(signature.bytes, signature.mediaType, { digest: image.digest });
      referrer = { digest: signature.digest, bytes: signature.bytes };
    });
    afterAll(async () => {
      await subject?.close?.();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('stats a blob it holds (its size) and one it does not (undefined)', async () => {
      expect(await repo.blobExists(sha256(layer))).toEqual({ size: layer.length });
      expect(await repo.blobExists(sha256(randomBytes(32)))).toBeUndefined();
    });

    it('reads a whole blob, and ranges at its start, middle and end', async () => {
      const digest = sha256(layer);
      const whole = await readAll(repo, digest);
      expect(whole.status).toBe(200);
      expect(whole.bytes.equals(layer)).toBe(true);
      const size = layer.length;
      for (const [offset, end] of [
        [0, 99],
        [150 * KiB + 3, 200 * KiB],
        [size - 100, size - 1],
      ] as const) {
        const part = await readAll(repo, digest, { offset, end });
        expect(part, `bytes ${offset}-${end}`).toMatchObject({ status: 206, offset });
        expect(part.bytes.equals(layer.subarray(offset, end + 1)), `bytes ${offset}-${end}`).toBe(true);
      }
      // An open range, and one whose end is past the blob's: both end at the blob's end.
      expect((await readAll(repo, digest, { offset: size - 10 })).bytes.equals(layer.subarray(size - 10))).toBe(true);
      expect((await readAll(repo, digest, { offset: size - 10, end: size + 1000 })).bytes.equals(layer.subarray(size - 10))).toBe(true);
    });

    it('refuses a range that starts past the end, and a blob it does not hold, for good', async () => {
      const outside = await rejection(readAll(repo, sha256(layer), { offset: layer.length + 10, end: layer.length + 20 }));
      expect(outside).toMatchObject({ code: 'INVALID_RANGE', retryable: false });
      const absent = await rejection(readAll(repo, sha256(randomBytes(32))));
      expect(absent).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    });

    it('gives a manifest by tag and by digest, with its media type and exact bytes', async () => {
      for (const reference of ['v3', image.digest]) {
        const fetched = await repo.fetchManifest(reference);
        expect(fetched.bytes.equals(image.bytes), reference).toBe(true);
        expect(fetched.descriptor).toMatchObject({ mediaType: image.mediaType, digest: image.digest, size: image.bytes.length });
      }
      const missing = await rejection(repo.fetchManifest('no-such-tag'));
      expect(missing).toMatchObject({ code: 'NOT_FOUND', retryable: false });
      expect(await rejection(repo.fetchManifest(sha256(randomBytes(8))))).toMatchObject({ code: 'NOT_FOUND' });
    });

    it('lists every tag across pages', async () => {
      // A registry without the referrers API keeps a subject's referrers under a tag of its own (sha256-<hex>).
      const listed = (await repo.listTags({ pageSize: 2 })).filter((tag) => !isReferrersTag(tag));
      expect(listed.sort()).toEqual(tags);
    });

    it('lists its repositories in the catalog', async () => {
      const catalog = await subject.store.listCatalog({ pageSize: 50 });
      expect(catalog.repositories).toEqual(expect.arrayContaining([names.main, names.other]));
      expect(catalog.repositories).not.toContain(names.pushed);
    });

    it('lists the referrers of a manifest, filtered by artifact type', async () => {
      const listed = await repo.listReferrers(image.digest);
      expect(listed).toEqual([
        expect.objectContaining({ digest: referrer.digest, size: referrer.bytes.length, artifactType: signatureType, annotations: { 'org.example.signed-by': 'conformance' } }),
      ]);
      expect(await repo.listReferrers(image.digest, { artifactType: signatureType })).toHaveLength(1);
      expect(await repo.listReferrers(image.digest, { artifactType: 'application/vnd.other' })).toEqual([]);
      expect(await repo.listReferrers(sha256(randomBytes(8)))).toEqual([]);
    });

    it('reads back what was pushed; a second push of a blob uploads nothing', async () => {
      const pushedRepo = subject.store.repository(names.pushed);
      const bytes = randomBytes(70 * KiB);
      expect(await pushedRepo.pushBlob({ digest: sha256(bytes), size: bytes.length, open: () => bytes })).toMatchObject({ uploaded: true });
      expect(await pushedRepo.blobExists(sha256(bytes))).toEqual({ size: bytes.length });
      expect((await readAll(pushedRepo, sha256(bytes))).bytes.equals(bytes)).toBe(true);
      expect(await pushedRepo.pushBlob({ digest: sha256(bytes), size: bytes.length, open: () => bytes })).toMatchObject({ uploaded: false });
    });

    it('refuses a blob that does not match its digest, and keeps nothing of it', async () => {
      const pushedRepo = subject.store.repository(names.pushed);
      const claimed = sha256(randomBytes(64));
      const bytes = randomBytes(64);
      const error = await rejection(pushedRepo.pushBlob({ digest: claimed, size: bytes.length, open: () => bytes }));
      // The in-memory store finds the mismatch itself; a registry answers 400 DIGEST_INVALID.
      expect(['DIGEST_MISMATCH', 'REGISTRY_ERROR']).toContain(error.code);
      expect(error.retryable).toBe(false);
      expect(await pushedRepo.blobExists(claimed)).toBeUndefined();
      expect(await pushedRepo.blobExists(sha256(bytes))).toBeUndefined();
    });

    it('is a pull source: pull() from it fills a real HostCache with a verified image', async () => {
      const cache = await HostCache.open(join(work, 'cache'));
      // Small segments, so the layer comes in several parallel ranged reads as a large one would.
      const result = await pull({ source: repo, cache, reference: `source.invalid/${names.main}:v2`, blobFetch: { segmentSize: 64 * KiB } });
      expect(result).toMatchObject({ digest: image.digest, manifestDigest: image.digest, size: layer.length + emptyConfig.bytes.length, bytesFetched: layer.length + emptyConfig.bytes.length });
      expect((await cache.readBlob(sha256(layer))).equals(layer)).toBe(true);
      expect(await cache.listImages()).toEqual([expect.objectContaining({ digest: image.digest, tags: ['v2'], materialized: true })]);
      expect(await fsck(cache)).toMatchObject({ ok: true, blobsChecked: 3 });
    });
  });
}
