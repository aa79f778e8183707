// A store of repositories held in memory: every capability of ./source.ts, with a registry's
// rules where they matter to a caller (a blob is kept only if it matches its digest and size, a
// manifest only once its blobs are there, a manifest with a subject becomes a referrer of it).
// For tests and tools that need a source without a registry; the conformance suite
// (packages/oci/testing/conformance.ts) holds it to the same behaviour as the registry client.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseDigest, sha256, type Digest } from './digest.ts';
import { DigestMismatchError, NotFoundError, OciError, SizeMismatchError } from './errors.ts';
import { isIndex, parseManifest, type Descriptor, type Manifest } from './manifest.ts';
import { isValidTag } from './reference.ts';
import { referrerDescriptor, referrerManifest } from './registry/referrers.ts';
import type {
  BlobBody,
  BlobContent,
  BlobRange,
  BlobRead,
  CatalogOptions,
  CatalogPage,
  FetchedManifest,
  ListReferrersOptions,
  PushBlobResult,
  PushedReferrer,
  RepositorySource,
  RepositoryStore,
} from './source.ts';

/** Chunks a blob is read in, so a consumer sees a stream, pausing between chunks, as from a socket. */
const chunkBytes = 256 * 1024;

export class MemoryStore implements RepositoryStore {
  private readonly repositories = new Map<string, MemoryRepository>();

  /** The repository `name`, created empty on first use. */
  repository(name: string): MemoryRepository {
    let repository = this.repositories.get(name);
    if (!repository) {
      repository = new MemoryRepository(name);
      this.repositories.set(name, repository);
    }
    return repository;
  }

  /** Repositories holding at least one manifest, in lexical order (as distribution lists them). */
  async listCatalog(options: CatalogOptions = {}): Promise<CatalogPage> {
    const names = [...this.repositories.values()].filter((r) => r.holdsManifests).map((r) => r.name).sort();
    const limit = options.limit ?? 10_000;
    return { repositories: names.slice(0, limit), truncated: names.length > limit };
  }
}

export class MemoryRepository implements RepositorySource {
  private readonly blobs = new Map<Digest, Buffer>();
  private readonly manifests = new Map<Digest, FetchedManifest>();
  private readonly tags = new Map<string, Digest>();
  private readonly referrers = new Map<Digest, Descriptor[]>();

  constructor(readonly name: string) {}

  get holdsManifests(): boolean {
    return this.manifests.size > 0;
  }

  async blobExists(digest: Digest): Promise<{ size: number } | undefined> {
    parseDigest(digest);
    const blob = this.blobs.get(digest);
    return blob ? { size: blob.length } : undefined;
  }

  async fetchBlob(digest: Digest, range: BlobRange = {}): Promise<BlobRead> {
    parseDigest(digest);
    const blob = this.blobs.get(digest);
    if (!blob) throw new NotFoundError(`Blob ${digest} is not in ${this.name}.`);
    const whole = (range.offset ?? 0) === 0 && range.end === undefined;
    if (whole) return { status: 200, offset: 0, length: blob.length, body: bufferBody(blob, range.signal) };
    const offset = range.offset ?? 0;
    const end = Math.min(range.end ?? blob.length - 1, blob.length - 1);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= blob.length || end < offset) {
      throw new OciError('INVALID_RANGE', `${this.name} has no bytes ${offset}-${range.end ?? ''} of blob ${digest} (${blob.length} bytes): the range starts past its end.`);
    }
    const bytes = blob.subarray(offset, end + 1);
    return { status: 206, offset, length: bytes.length, body: bufferBody(bytes, range.signal) };
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const target = this.target(reference);
    const digest = target.includes(':') ? (target as Digest) : this.tags.get(target);
    const stored = digest && this.manifests.get(digest);
    if (!stored) throw new NotFoundError(`${reference.includes(':') ? `Manifest ${reference}` : `Tag "${reference}"`} not found in ${this.name}.`);
    return { ...stored, descriptor: { ...stored.descriptor } };
  }

  async listTags(options: { limit?: number } = {}): Promise<string[]> {
    const tags = [...this.tags.keys()].sort();
    if (options.limit !== undefined && tags.length > options.limit) {
      throw new OciError('REGISTRY_ERROR', `${this.name} holds more than ${options.limit} tags; stopped there.`, { retryable: false });
    }
    return tags;
  }

  async listReferrers(subject: Digest, options: ListReferrersOptions = {}): Promise<Descriptor[]> {
    parseDigest(subject);
    const all = this.referrers.get(subject) ?? [];
    return (options.artifactType === undefined ? all : all.filter((d) => d.artifactType === options.artifactType)).map((d) => ({ ...d }));
  }

  async pushBlob(content: BlobContent, options: { signal?: AbortSignal } = {}): Promise<PushBlobResult> {
    parseDigest(content.digest);
    if (this.blobs.has(content.digest)) return { uploaded: false };
    const opened = content.open();
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of Buffer.isBuffer(opened) ? Readable.from([opened]) : opened) {
      options.signal?.throwIfAborted();
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      hash.update(bytes);
      chunks.push(bytes);
      size += bytes.length;
    }
    const actual: Digest = `sha256:${hash.digest('hex')}`;
    if (actual !== content.digest) throw new DigestMismatchError(content.digest, actual, `blob pushed to ${this.name}`);
    if (size !== content.size) throw new SizeMismatchError(content.size, size, `blob pushed to ${this.name}`);
    this.blobs.set(content.digest, Buffer.concat(chunks, size));
    return { uploaded: true };
  }

  async pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<Descriptor> {
    const target = this.target(reference);
    const digest = sha256(bytes);
    if (target.includes(':') && target !== digest) throw new DigestMismatchError(target, digest, 'manifest to push');
    const manifest = parseManifest(bytes, mediaType);
    this.assertContentPresent(manifest, digest);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    if (manifest.artifactType) descriptor.artifactType = manifest.artifactType;
    this.manifests.set(digest, { descriptor, manifest, bytes: Buffer.from(bytes) });
    if (!target.includes(':')) this.tags.set(target, digest);
    if (manifest.subject) {
      const listed = (this.referrers.get(manifest.subject.digest) ?? []).filter((d) => d.digest !== digest);
      this.referrers.set(manifest.subject.digest, [...listed, referrerDescriptor(manifest, mediaType, digest, bytes.length)]);
    }
    return { ...descriptor };
  }

  async pushReferrer(bytes: Buffer, mediaType: string, subject: Pick<Descriptor, 'digest'>): Promise<PushedReferrer> {
    const manifest = referrerManifest(bytes, mediaType, subject);
    const pushed = await this.pushManifest(bytes, mediaType, sha256(bytes));
    return { descriptor: referrerDescriptor(manifest, mediaType, pushed.digest, pushed.size), via: 'api' };
  }

  /** `tag` or `digest`, validated as a registry would. */
  private target(reference: string): string {
    if (reference.includes(':')) parseDigest(reference);
    else if (!isValidTag(reference)) throw new OciError('INVALID_REFERENCE', `"${reference}" is neither a valid tag nor a digest`);
    return reference;
  }

  /** What a manifest names must be here first (distribution refuses it otherwise: MANIFEST_BLOB_UNKNOWN). */
  private assertContentPresent(manifest: Manifest, digest: Digest): void {
    const missing = isIndex(manifest)
      ? manifest.manifests.find((d) => !this.manifests.has(d.digest))
      : [manifest.config, ...manifest.layers].find((d) => !this.blobs.has(d.digest));
    if (missing) throw new OciError('INVALID_MANIFEST', `Manifest ${digest} names ${missing.digest}, which is not in ${this.name}: push it first.`);
  }
}

/** A buffer as a blob body: chunks handed over one at a time, stopped by destroy() or the signal. */
function bufferBody(bytes: Buffer, signal: AbortSignal | undefined): BlobBody {
  let destroyed = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < bytes.length && !destroyed; at += chunkBytes) {
      signal?.throwIfAborted();
      yield bytes.subarray(at, at + chunkBytes);
    }
  }
  return {
    [Symbol.asyncIterator]: chunks,
    async consume(onChunk) {
      for await (const chunk of chunks()) await onChunk(chunk);
    },
    destroy() {
      destroyed = true;
    },
  };
}
