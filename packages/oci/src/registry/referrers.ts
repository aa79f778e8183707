// Referrers: manifests whose `subject` names another manifest (signatures, SBOMs, attestations of
// an image). distribution-spec v1.1 "Listing Referrers" and "Pushing Manifests with Subject", with
// the client-side fallback of "Backwards Compatibility": on a registry without the referrers API
// (distribution 2.8) the list lives in an image index under the referrers tag `sha256-<hex>`.
import { parseDigest, sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, NotFoundError, OciError } from '../errors.ts';
import type { HttpResponse, RegistryTransport } from '../http/transport.ts';
import { encodeManifest, isIndex, parseManifest, type Descriptor, type ImageIndex, type Manifest } from '../manifest.ts';
import { MediaType } from '../media-types.ts';
import type { FetchedManifest, ListReferrersOptions, PushedReferrer } from '../source.ts';
import { paginate } from './paginate.ts';

/** A referrers page larger than this is refused (manifests are limited alike). */
const maxPageBytes = 4 * 1024 * 1024;
/** Referrers read at most; a subject with more is an error, not a silent cut. */
const maxReferrers = 10_000;
/** Read-modify-write rounds of the referrers tag before giving up on a concurrent writer. */
const fallbackRounds = 3;

/**
 * What these functions use of a registry repository (./repository.ts implements it). Named here,
 * not imported from there, so that the repository can delegate to this file without a cycle.
 */
export interface ReferrersRepository {
  readonly name: string;
  readonly registry: string;
  readonly transport: RegistryTransport;
  fetchManifest(reference: string): Promise<FetchedManifest>;
  pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<Descriptor>;
  deleteManifest(digest: Digest): Promise<void>;
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The referrers tag of a digest ("Referrers Tag Schema"): the algorithm truncated to 32 characters,
 * `-`, the encoded part truncated to 64, and any character a tag cannot hold replaced by `-`.
 */
/** Whether a tag is a referrers fallback tag (`<alg>-<hex>`), which moves whenever a referrer is attached. */
export function isReferrersTag(tag: string): boolean {
  return /^(sha256|sha512)-[0-9a-f]{64}$/.test(tag);
}

export function referrersTag(digest: Digest): string {
  const colon = digest.indexOf(':');
  return `${digest.slice(0, colon).slice(0, 32)}-${digest.slice(colon + 1).slice(0, 64)}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}

/**
 * The descriptor a referrers list holds for a manifest ("Listing Referrers"): artifactType from the
 * manifest, else its config's mediaType (an index without one has none), and all its annotations.
 */
export function referrerDescriptor(manifest: Manifest, mediaType: string, digest: Digest, size: number): Descriptor {
  const descriptor: Descriptor = { mediaType, digest, size };
  const artifactType = manifest.artifactType || (isIndex(manifest) ? undefined : manifest.config.mediaType);
  if (artifactType) descriptor.artifactType = artifactType;
  if (manifest.annotations && Object.keys(manifest.annotations).length > 0) descriptor.annotations = { ...manifest.annotations };
  return descriptor;
}

function byArtifactType(descriptors: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? descriptors : descriptors.filter((d) => d.artifactType === artifactType);
}

async function readPage(response: HttpResponse, what: string): Promise<ImageIndex> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += (chunk as Buffer).length;
    if (total > maxPageBytes) {
      response.body.destroy();
      throw new OciError('MANIFEST_TOO_LARGE', `Refusing ${what}: a page over ${maxPageBytes} bytes (GET ${response.url})`);
    }
    chunks.push(chunk as Buffer);
  }
  const page = parseManifest(Buffer.concat(chunks, total), header(response, 'content-type')?.split(';')[0]?.trim());
  if (!isIndex(page)) throw new OciError('INVALID_MANIFEST', `Invalid ${what}: the registry answered with a manifest, not an image index (GET ${response.url})`);
  return page;
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=] ("Listing Referrers"), following Link pages
 * within ./paginate.ts's limits. When the server did not apply the filter (no
 * `OCI-Filters-Applied: artifactType`), it is applied here. A 404 means the registry has no referrers API (a registry with it MUST NOT answer 404):
 * the list is then read from the referrers tag, and a missing tag means no referrers.
 */
export async function listReferrers(repo: ReferrersRepository, subject: Digest, options: ListReferrersOptions = {}): Promise<Descriptor[]> {
  parseDigest(subject);
  const what = `the referrers of ${repo.name}@${subject}`;
  const query = options.artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType: options.artifactType })}`;
  let pagesRead = 0;
  try {
    // Every entry counts toward the page (a page whose entries are all filtered out is not an end);
    // the filter is applied here where the server did not (no `OCI-Filters-Applied: artifactType`).
    const listed = await paginate<{ descriptor: Descriptor; wanted: boolean }>({
      transport: repo.transport,
      first: `/v2/${repo.name}/referrers/${subject}${query}`,
      headers: { accept: MediaType.ociIndex },
      scopes: [`repository:${repo.name}:pull`],
      what,
      readPage: async (response) => {
        pagesRead++;
        const manifests = (await readPage(response, what)).manifests;
        const applied = (header(response, 'oci-filters-applied') ?? '').split(',').map((f) => f.trim());
        const wanted = new Set(applied.includes('artifactType') ? manifests : byArtifactType(manifests, options.artifactType));
        return manifests.map((descriptor) => ({ descriptor, wanted: wanted.has(descriptor) }));
      },
      keyOf: (entry) => entry.descriptor.digest,
      maxItems: maxReferrers,
      signal: options.signal,
    });
    if (listed.truncated) throw new OciError('REGISTRY_ERROR', `Registry ${repo.registry} lists more than ${maxReferrers} referrers of ${repo.name}@${subject}; stopped reading there.`, { retryable: false });
    return listed.items.filter((entry) => entry.wanted).map((entry) => entry.descriptor);
  } catch (error) {
    if (error instanceof NotFoundError && pagesRead === 0) return listFromTag(repo, subject, options.artifactType);
    throw error;
  }
}

/** The referrers index under the referrers tag; undefined when the tag does not exist. */
async function readFallback(repo: ReferrersRepository, subject: Digest): Promise<{ index: ImageIndex; descriptor: Descriptor } | undefined> {
  const tag = referrersTag(subject);
  try {
    // Every manifest type is accepted: distribution answers 404 when the Accept header excludes what
    // the tag holds, and a 404 here would let the next push overwrite that manifest.
    const fetched = await repo.fetchManifest(tag);
    if (!isIndex(fetched.manifest)) {
      throw new OciError('INVALID_MANIFEST', `${repo.name}:${tag} should hold the referrers index of ${subject} but holds a ${fetched.descriptor.mediaType}; refusing to overwrite it.`);
    }
    return { index: fetched.manifest, descriptor: fetched.descriptor };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** "If the response to the referrers API is a 404, and the tag schema does not return a valid image index, the client SHOULD assume there are no referrers." */
async function listFromTag(repo: ReferrersRepository, subject: Digest, artifactType: string | undefined): Promise<Descriptor[]> {
  try {
    return byArtifactType((await readFallback(repo, subject))?.index.manifests ?? [], artifactType);
  } catch (error) {
    if (error instanceof OciError && error.code === 'INVALID_MANIFEST') return [];
    throw error;
  }
}

/**
 * Rewrites the referrers index under the referrers tag with `change` applied ("Pushing Manifests
 * with Subject", steps 1-6; "Deleting Manifests"). The registry offers no conditional PUT, so a
 * concurrent writer can replace the index between our read and write (the spec's noted race): the
 * tag is read back and the change applied again when it was lost, up to a few rounds.
 */
async function updateFallback(repo: ReferrersRepository, subject: Digest, change: (manifests: Descriptor[]) => Descriptor[], applied: (manifests: Descriptor[]) => boolean): Promise<Descriptor | undefined> {
  const tag = referrersTag(subject);
  for (let round = 0; round < fallbackRounds; round++) {
    const current = await readFallback(repo, subject);
    const base: ImageIndex = current?.index ?? { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
    if (applied(base.manifests)) return current?.descriptor;
    const encoded = encodeManifest({ ...base, manifests: change(base.manifests) });
    await repo.pushManifest(encoded.bytes, encoded.mediaType, tag);
  }
  const check = await readFallback(repo, subject);
  if (check && applied(check.index.manifests)) return check.descriptor;
  throw new OciError('REGISTRY_ERROR', `The referrers index ${repo.name}:${tag} kept changing while it was updated (another client is writing it); retry.`, { retryable: true });
}

/** A referrer manifest to push, parsed: it must have a `subject`, and name the one expected. */
export function referrerManifest(bytes: Buffer, mediaType: string, subject: Pick<Descriptor, 'digest'>): Manifest {
  const manifest = parseManifest(bytes, mediaType);
  if (!manifest.subject) throw new OciError('INVALID_MANIFEST', `A referrer needs a subject: the manifest to push has no "subject" field (expected ${subject.digest})`);
  if (manifest.subject.digest !== subject.digest) throw new DigestMismatchError(subject.digest, manifest.subject.digest, 'subject of the referrer manifest');
  return manifest;
}

/**
 * Pushes a manifest that has a `subject` by digest ("Pushing Manifests with Subject"). A registry
 * with the referrers API answers `OCI-Subject`; without it the client adds the manifest's
 * descriptor to the referrers index under the referrers tag (created when missing).
 */
export async function pushReferrer(repo: ReferrersRepository, bytes: Buffer, mediaType: string, subject: Pick<Descriptor, 'digest'>): Promise<PushedReferrer> {
  const manifest = referrerManifest(bytes, mediaType, subject);
  const digest = sha256(bytes);
  const what = `referrer manifest ${repo.name}@${digest}`;
  const headers = { 'content-type': mediaType };
  const response = await repo.transport.send({ method: 'PUT', url: `/v2/${repo.name}/manifests/${digest}`, headers, body: bytes, scopes: [`repository:${repo.name}:pull,push`], expect: [201], what });
  await response.body.dump();
  const reported = header(response, 'docker-content-digest');
  if (reported && reported !== digest) throw new DigestMismatchError(digest, reported, 'manifest digest the registry computed');
  const descriptor = referrerDescriptor(manifest, mediaType, digest, bytes.length);
  if (header(response, 'oci-subject')) return { descriptor, via: 'api' };
  const has = (manifests: Descriptor[]) => manifests.some((d) => d.digest === digest);
  const index = await updateFallback(repo, subject.digest, (manifests) => [...manifests, descriptor], has);
  return { descriptor, via: 'tag', index };
}

/**
 * Deletes a referrer manifest ("Deleting Manifests") and, on a registry without the referrers API,
 * removes it from its subject's referrers index.
 */
export async function deleteReferrer(repo: ReferrersRepository, referrer: Digest, subject: Digest): Promise<void> {
  await repo.deleteManifest(referrer);
  if (await hasReferrersApi(repo, subject)) return;
  const absent = (manifests: Descriptor[]) => !manifests.some((d) => d.digest === referrer);
  await updateFallback(repo, subject, (manifests) => manifests.filter((d) => d.digest !== referrer), absent);
}

/** Whether the registry answers the referrers API (any answer but 404). */
async function hasReferrersApi(repo: ReferrersRepository, subject: Digest): Promise<boolean> {
  try {
    const response = await repo.transport.send({ method: 'GET', url: `/v2/${repo.name}/referrers/${subject}`, headers: { accept: MediaType.ociIndex }, scopes: [`repository:${repo.name}:pull`], expect: [200], what: `the referrers of ${repo.name}@${subject}` });
    await response.body.dump();
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}
