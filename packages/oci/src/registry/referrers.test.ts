// Referrers against a real registry (Debian's docker-registry, CNCF distribution 2.8.2, which has no
// referrers API: the referrers tag schema is what gets exercised), and the referrers API itself
// as a fault proxy answers it.
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { sha256, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import { emptyConfig, encodeManifest, type Descriptor, type ImageIndex, type ImageManifest } from '../manifest.ts';
import { MediaType } from '../media-types.ts';
import { assertValidOci, startFaultProxy, type FaultProxy } from '../../testing/index.ts';
import { RegistryClient } from './client.ts';
import { deleteReferrer, referrersTag } from './referrers.ts';
import type { Repository } from './repository.ts';

const sbom = 'application/vnd.example.sbom.v1';
const signature = 'application/vnd.example.signature.v1';

describe('referrersTag (distribution-spec "Referrers Tag Schema")', () => {
  it('maps digests as the spec table does', () => {
    expect(referrersTag(`sha256:${'a'.repeat(64)}`)).toBe(`sha256-${'a'.repeat(64)}`);
    expect(referrersTag(`sha512:${'a'.repeat(128)}`)).toBe(`sha512-${'a'.repeat(64)}`);
    const odd = 'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation';
    expect(referrersTag(odd as Digest)).toBe('test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot');
  });
});

describe('referrers (real docker-registry, no referrers API)', () => {
  let client: RegistryClient;
  let proxy: FaultProxy;
  const direct = (repository: string) => client.repository(inject('registryHost'), repository);

  async function pushManifest(repo: Repository, manifest: ImageManifest, reference?: string): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
    for (const blob of [emptyConfig.bytes, ...manifest.layers.map((l) => Buffer.from(l.annotations?.text ?? ''))]) {
      await repo.pushBlob({ digest: sha256(blob), size: blob.length, open: () => blob });
    }
    assertValidOci('manifest', manifest);
    const encoded = encodeManifest(manifest);
    const descriptor = await repo.pushManifest(encoded.bytes, encoded.mediaType, reference ?? encoded.digest);
    return { bytes: encoded.bytes, descriptor };
  }

  function artifact(text: string, extra: Partial<ImageManifest> = {}): ImageManifest {
    const layer = Buffer.from(text);
    return {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: 'application/vnd.cider.image.v1',
      config: emptyConfig.descriptor,
      layers: [{ mediaType: MediaType.octetStream, digest: sha256(layer), size: layer.length, annotations: { text } }],
      ...extra,
    };
  }

  /** Builds, validates and attaches a referrer of `artifactType` to `subject`. */
  async function attach(repo: Repository, subject: Descriptor, artifactType: string, text: string) {
    const manifest = artifact(text, { artifactType, subject, annotations: { 'org.example.note': text } });
    const layer = Buffer.from(text);
    await repo.pushBlob({ digest: sha256(layer), size: layer.length, open: () => layer });
    assertValidOci('manifest', manifest);
    const encoded = encodeManifest(manifest);
    return repo.pushReferrer(encoded.bytes, encoded.mediaType, subject);
  }

  /** The referrers index under the referrers tag, validated against the image-spec index schema. */
  async function fallbackIndex(repo: Repository, subject: Digest): Promise<ImageIndex> {
    const fetched = await repo.fetchManifest(referrersTag(subject));
    assertValidOci('index', fetched.bytes);
    return fetched.manifest as ImageIndex;
  }

  beforeAll(async () => {
    client = new RegistryClient({ retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
    proxy = await startFaultProxy(inject('registryUrl'));
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
  });
  beforeEach(() => {
    proxy.setRule(undefined);
    proxy.requests.length = 0;
  });

  it('attaches two referrers through the referrers tag and lists them, filtered or not', async () => {
    const repo = direct(uniqueRepository('referrers'));
    const { descriptor: subject } = await pushManifest(repo, artifact('the image'), '15.2');
    expect(await repo.listReferrers(subject.digest)).toEqual([]);

    const first = await attach(repo, subject, sbom, 'an sbom');
    expect(first.via).toBe('tag');
    expect(first.descriptor).toMatchObject({ mediaType: MediaType.ociManifest, artifactType: sbom, annotations: { 'org.example.note': 'an sbom' } });
    expect((await fallbackIndex(repo, subject.digest)).manifests).toEqual([first.descriptor]);

    const second = await attach(repo, subject, signature, 'a signature');
    const index = await fallbackIndex(repo, subject.digest);
    expect(index).toEqual({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [first.descriptor, second.descriptor] });
    expect(second.index?.digest).toBe(sha256(encodeManifest(index).bytes));

    expect(await repo.listReferrers(subject.digest)).toEqual([first.descriptor, second.descriptor]);
    expect(await repo.listReferrers(subject.digest, { artifactType: sbom })).toEqual([first.descriptor]);
    expect(await repo.listReferrers(subject.digest, { artifactType: signature })).toEqual([second.descriptor]);
    expect(await repo.listReferrers(subject.digest, { artifactType: 'application/unknown' })).toEqual([]);

    // Attaching the same referrer again adds no duplicate and leaves the index as it was.
    const again = await attach(repo, subject, sbom, 'an sbom');
    expect(again.index?.digest).toBe(second.index?.digest);
    expect(await repo.listReferrers(subject.digest)).toHaveLength(2);

    // Deleting a referrer removes its entry too.
    await deleteReferrer(repo, first.descriptor.digest, subject.digest);
    expect(await repo.listReferrers(subject.digest)).toEqual([second.descriptor]);
    expect((await fallbackIndex(repo, subject.digest)).manifests).toEqual([second.descriptor]);
  });

  it('refuses a manifest without the subject it was told about', async () => {
    const repo = direct(uniqueRepository('referrers'));
    const { descriptor: subject } = await pushManifest(repo, artifact('subject'));
    const plain = encodeManifest(artifact('no subject'));
    await expect(repo.pushReferrer(plain.bytes, plain.mediaType, subject)).rejects.toThrow(/needs a subject/);
  });

  it('will not overwrite a referrers tag that holds something other than an index', async () => {
    const repo = direct(uniqueRepository('referrers'));
    const { descriptor: subject } = await pushManifest(repo, artifact('subject'));
    await pushManifest(repo, artifact('squatter'), referrersTag(subject.digest));
    const error = await attach(repo, subject, sbom, 'an sbom').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).code).toBe('INVALID_MANIFEST');
    expect(await repo.listReferrers(subject.digest)).toEqual([]);
  });

  it('uses the referrers API when the registry has one: pages, and filters the server did not apply', async () => {
    const repository = uniqueRepository('referrers-api');
    const subject = sha256('some subject');
    const entry = (n: number, artifactType: string): Descriptor => ({ mediaType: MediaType.ociManifest, digest: sha256(`referrer ${n}`), size: 100 + n, artifactType });
    const page1: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry(1, sbom), entry(2, signature)] };
    const page2: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry(3, sbom)] };
    assertValidOci('index', page1);
    assertValidOci('index', page2);
    let filtersApplied = false;
    proxy.setRule((req) => {
      if (!req.path.includes('/referrers/')) return undefined;
      const headers: Record<string, string> = { 'content-type': MediaType.ociIndex };
      if (filtersApplied) headers['oci-filters-applied'] = 'artifactType';
      if (req.path.includes('page=2')) return { kind: 'status', status: 200, headers, body: JSON.stringify(page2) };
      headers.link = `</v2/${repository}/referrers/${subject}?page=2>; rel="next"`;
      return { kind: 'status', status: 200, headers, body: JSON.stringify(page1) };
    });
    const repo = client.repository(proxy.host, repository);
    expect(await repo.listReferrers(subject)).toEqual([entry(1, sbom), entry(2, signature), entry(3, sbom)]);
    expect(await repo.listReferrers(subject, { artifactType: sbom })).toEqual([entry(1, sbom), entry(3, sbom)]);
    expect(proxy.requests.at(-2)?.path).toBe(`/v2/${repository}/referrers/${subject}?artifactType=${encodeURIComponent(sbom)}`);
    // With OCI-Filters-Applied the server's answer is taken as it is.
    filtersApplied = true;
    expect(await repo.listReferrers(subject, { artifactType: sbom })).toHaveLength(3);
  });

  it('leaves the referrers tag alone when the registry answers OCI-Subject', async () => {
    const repository = uniqueRepository('referrers-api');
    const repo = client.repository(proxy.host, repository);
    const { descriptor: subject } = await pushManifest(repo, artifact('subject'));
    proxy.requests.length = 0;
    proxy.setRule((req) => (req.method === 'PUT' && req.path.includes('/manifests/') ? { kind: 'status', status: 201, headers: { 'oci-subject': subject.digest }, body: '' } : undefined));
    const pushed = await attach(repo, subject, sbom, 'an sbom');
    expect(pushed.via).toBe('api');
    expect(proxy.requests.filter((r) => r.path.includes('/manifests/')).map((r) => r.method)).toEqual(['PUT']);
  });
});
