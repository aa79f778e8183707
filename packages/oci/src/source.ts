// What the library asks of a place that holds images, as small capability interfaces (after
// containerd's content store and oras-go's Fetcher/Pusher/TagLister/ReferrerLister): a registry
// repository implements all of them (./registry/repository.ts), and so does the in-memory store
// (./memory-store.ts); a peer, a mirror or a bundle on disk will implement the ones it can.
// pull() needs only a ManifestSource and a BlobSource. Every implementation is held to the same
// behaviour by the conformance suite (packages/oci/testing/conformance.ts).
//
// A source is not trusted: pull() checks every manifest against its digest (verifiedManifest
// below) and every blob as it lands in the cache, whoever sent it.
import type { Readable } from 'node:stream';
import type { BodyTarget } from './http/http-client.ts';
import { sha256, type Digest } from './digest.ts';
import { DigestMismatchError } from './errors.ts';
import { parseManifest, type Descriptor, type Manifest } from './manifest.ts';

/** A manifest as a source holds it: its bytes, and a descriptor of them (media type, digest, size). */
export interface ManifestContent {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface FetchedManifest extends ManifestContent {
  manifest: Manifest;
}

export interface ManifestSource {
  /** A manifest by tag or by digest; NotFoundError (NOT_FOUND) when the source has none. */
  fetchManifest(reference: string): Promise<ManifestContent>;
}

/** A blob's bytes as a stream, paused until read (`consume` is the fast path for large blobs). */
export interface BlobBody extends AsyncIterable<Buffer> {
  /** Hands every chunk to `onChunk`, pausing while a returned promise is pending. */
  consume(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void>;
  /** Stops reading and lets go of the stream. */
  destroy(): void;
}

/** A body that can read into the caller's memory (the HTTP client's, ./http/http-client.ts). */
export function readsInto(body: BlobBody): body is BlobBody & { readInto(target: BodyTarget): Promise<void> } {
  return typeof (body as { readInto?: unknown }).readInto === 'function';
}

/** Bytes `offset` to `end` (inclusive, like HTTP Range); the whole blob when neither is given. */
export interface BlobRange {
  offset?: number;
  end?: number;
  signal?: AbortSignal;
}

export interface BlobRead {
  /**
   * In HTTP's terms: 206 when `body` starts at the offset asked for; 200 when it is the whole
   * blob from byte 0 (a server ignoring Range), and a reader that asked for a range must start over.
   */
  status: 200 | 206;
  /** Offset of the first byte in `body`. */
  offset: number;
  /** Bytes in `body`, when known. */
  length?: number;
  body: BlobBody;
}

export interface BlobSource {
  /** A blob's size, or undefined when the source does not hold it. */
  blobExists(digest: Digest): Promise<{ size: number } | undefined>;
  /**
   * Reads a blob, or a range of it. An absent blob is NOT_FOUND; a range starting past the end is
   * INVALID_RANGE; a range ending past the end is cut at the end.
   */
  fetchBlob(digest: Digest, range?: BlobRange): Promise<BlobRead>;
}

export interface TagLister {
  /** Every tag, in the source's order, following its pages (`pageSize` asks for a page size). */
  listTags(options?: { pageSize?: number; limit?: number; signal?: AbortSignal }): Promise<string[]>;
}

export interface CatalogOptions {
  /** `n` per page. */
  pageSize?: number;
  /** Names kept; past this the list is cut and flagged `truncated`. */
  limit?: number;
}

export interface CatalogPage {
  repositories: string[];
  truncated: boolean;
}

export interface CatalogLister {
  /** The names of the repositories the store holds. */
  listCatalog(options?: CatalogOptions): Promise<CatalogPage>;
}

export interface ListReferrersOptions {
  /** Only referrers of this artifactType. */
  artifactType?: string;
  signal?: AbortSignal;
}

export interface ReferrerLister {
  /** Descriptors of the manifests whose `subject` is `subject` (signatures, SBOMs, attestations). */
  listReferrers(subject: Digest, options?: ListReferrersOptions): Promise<Descriptor[]>;
}

/** Content to push whose digest is known: opened again for a retry. */
export interface BlobContent {
  digest: Digest;
  size: number;
  mediaType?: string;
  /** Opens the content from the start; called again for a retry. */
  open(): Readable | Buffer;
}

export interface PushBlobResult {
  /** False when the store already had the blob (or mounted it). */
  uploaded: boolean;
  /** The repository the blob was mounted from. */
  mountedFrom?: string;
}

export interface PushedReferrer {
  /** The referrer manifest, with the artifactType and annotations a referrers list carries. */
  descriptor: Descriptor;
  /** `api`: the store indexes referrers itself. `tag`: the client updated the referrers tag. */
  via: 'api' | 'tag';
  /** The referrers index pushed under the referrers tag, when `via` is `tag`. */
  index?: Descriptor;
}

export interface Pusher {
  /** Stores a blob unless present; content that does not match its digest or size is refused and not kept. */
  pushBlob(content: BlobContent, options?: { signal?: AbortSignal }): Promise<PushBlobResult>;
  /** Stores a manifest under a tag (tagging it) or its digest; its blobs must be there first. */
  pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<Descriptor>;
  /** Stores a manifest with a `subject` by digest, so that listReferrers of the subject lists it. */
  pushReferrer(bytes: Buffer, mediaType: string, subject: Pick<Descriptor, 'digest'>): Promise<PushedReferrer>;
}

/** Everything one repository of a store can do. */
export type RepositorySource = ManifestSource & BlobSource & TagLister & ReferrerLister & Pusher;

/** A store of repositories: one registry, the in-memory store. */
export interface RepositoryStore extends CatalogLister {
  repository(name: string): RepositorySource;
}

/**
 * A manifest from a source, checked and parsed: its bytes must hash to the digest its descriptor
 * names, and to `asked` when it was asked for by digest.
 */
export function verifiedManifest(content: ManifestContent, asked: string, what: string): FetchedManifest {
  const actual = sha256(content.bytes);
  if (asked.includes(':') && actual !== asked) throw new DigestMismatchError(asked, actual, what);
  if (actual !== content.descriptor.digest) throw new DigestMismatchError(content.descriptor.digest, actual, what);
  return { descriptor: { ...content.descriptor, size: content.bytes.length }, bytes: content.bytes, manifest: parseManifest(content.bytes, content.descriptor.mediaType) };
}
