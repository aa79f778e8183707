// One repository's API (OCI distribution-spec v1.1): manifests, blobs, tags, referrers, deletes.
import type { Readable } from 'node:stream';
import { parseDigest, sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, ManifestTooLargeError, NotFoundError, OciError, RegistryError } from '../errors.ts';
import { printable } from '../http/remote-text.ts';
import { bodyReadFailure, type HttpResponse, type RegistryTransport } from '../http/transport.ts';
import { parseManifest, type Descriptor } from '../manifest.ts';
import { manifestMediaTypes, MediaType } from '../media-types.ts';
import { isValidTag } from '../reference.ts';
import { paginate, readJsonPage } from './paginate.ts';
import type { BlobContent, BlobRange, BlobRead, FetchedManifest, ListReferrersOptions, PushBlobResult, PushedReferrer, RepositorySource } from '../source.ts';
import { listReferrers, pushReferrer } from './referrers.ts';
import { BlobUploader, type UploadOptions } from './upload.ts';

/** A blob read from the registry: the HTTP response body, with everything ResponseBody offers. */
export interface BlobResponse extends BlobRead {
  body: HttpResponse['body'];
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One repository of a registry; implements every capability of ../source.ts. */
export class Repository implements RepositorySource {
  constructor(
    readonly transport: RegistryTransport,
    readonly name: string,
    private readonly maxManifestBytes: number,
  ) {}

  get registry(): string {
    return this.transport.registry;
  }

  private scope(actions: 'pull' | 'pull,push' | 'delete'): string[] {
    return [`repository:${this.name}:${actions}`];
  }

  /** `tag` or `digest`, validated before it goes into a URL path. */
  private target(reference: string): string {
    if (reference.includes(':')) parseDigest(reference);
    else if (!isValidTag(reference)) throw new OciError('INVALID_REFERENCE', `"${reference}" is neither a valid tag nor a digest`);
    return reference;
  }

  private describeTarget(reference: string): string {
    return reference.includes(':') ? `${this.name}@${reference}` : `${this.name}:${reference}`;
  }

  private manifestNotFound(reference: string, error: NotFoundError): NotFoundError {
    const what = reference.includes(':') ? `Manifest ${reference}` : `Tag "${reference}"`;
    return new NotFoundError(`${what} not found in ${this.name} at ${this.registry}. Check the tag (cider tags ${this.registry}/${this.name}).`, error.request, error.errors);
  }

  /** GET or HEAD of a manifest; a 404 becomes a NotFoundError naming the tag or digest. */
  private async requestManifest(method: 'GET' | 'HEAD', target: string, accept: readonly string[]): Promise<HttpResponse> {
    try {
      return await this.transport.send({
        method,
        url: `/v2/${this.name}/manifests/${target}`,
        headers: { accept: accept.join(', ') },
        scopes: this.scope('pull'),
        expect: [200],
        what: `manifest ${this.describeTarget(target)}`,
      });
    } catch (error) {
      if (error instanceof NotFoundError) throw this.manifestNotFound(target, error);
      throw error;
    }
  }

  /**
   * Resolves a tag or digest to a descriptor with HEAD (distribution-spec "Checking if content
   * exists"). Falls back to GET when the registry omits Docker-Content-Digest.
   */
  async resolve(reference: string, accept: readonly string[] = manifestMediaTypes): Promise<Descriptor> {
    const target = this.target(reference);
    const response = await this.requestManifest('HEAD', target, accept);
    await response.body.dump();
    const digest = header(response, 'docker-content-digest');
    const size = Number(header(response, 'content-length'));
    const mediaType = header(response, 'content-type')?.split(';')[0]?.trim();
    if (digest && Number.isSafeInteger(size) && mediaType) {
      parseDigest(digest);
      if (target.includes(':') && digest !== target) throw new DigestMismatchError(target, digest, 'manifest digest the registry reported');
      return { mediaType, digest: digest as Digest, size };
    }
    return (await this.fetchManifest(target, accept)).descriptor;
  }

  /**
   * GETs a manifest and verifies it: against the digest asked for, and against the registry's
   * Docker-Content-Digest. Bodies over the size limit are refused before they are read whole.
   */
  async fetchManifest(reference: string, accept: readonly string[] = manifestMediaTypes): Promise<FetchedManifest> {
    const target = this.target(reference);
    const response = await this.requestManifest('GET', target, accept);
    const request = { method: 'GET', url: response.url, status: response.status };
    const declared = Number(header(response, 'content-length'));
    if (Number.isFinite(declared) && declared > this.maxManifestBytes) {
      response.body.destroy();
      throw new ManifestTooLargeError(declared, this.maxManifestBytes, request);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body) {
        total += (chunk as Buffer).length;
        if (total > this.maxManifestBytes) {
          response.body.destroy();
          throw new ManifestTooLargeError(total, this.maxManifestBytes, request);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      throw bodyReadFailure(error, this.registry, `manifest ${this.describeTarget(target)}`, request);
    }
    const bytes = Buffer.concat(chunks, total);
    const actual = sha256(bytes);
    if (target.includes(':') && actual !== target) throw new DigestMismatchError(target, actual, `manifest ${this.describeTarget(target)}`);
    const reported = header(response, 'docker-content-digest');
    if (reported?.startsWith('sha256:') && reported !== actual) {
      throw new DigestMismatchError(reported, actual, `manifest ${this.describeTarget(target)} (Docker-Content-Digest)`);
    }
    const contentType = header(response, 'content-type')?.split(';')[0]?.trim();
    const manifest = parseManifest(bytes, contentType);
    const mediaType = manifest.mediaType ?? (contentType && manifestMediaTypes.includes(contentType) ? contentType : MediaType.ociManifest);
    const descriptor: Descriptor = { mediaType, digest: actual, size: bytes.length };
    if (manifest.artifactType) descriptor.artifactType = manifest.artifactType;
    return { descriptor, manifest, bytes };
  }

  /** PUTs a manifest by tag or by digest; returns its descriptor. */
  async pushManifest(bytes: Buffer, mediaType: string, reference: string): Promise<Descriptor> {
    const target = this.target(reference);
    const digest = sha256(bytes);
    if (target.includes(':') && target !== digest) throw new DigestMismatchError(target, digest, 'manifest to push');
    const response = await this.transport.send({
      method: 'PUT',
      url: `/v2/${this.name}/manifests/${target}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      scopes: this.scope('pull,push'),
      expect: [201],
      what: `manifest ${this.describeTarget(target)}`,
    });
    await response.body.dump();
    const reported = header(response, 'docker-content-digest');
    if (reported && reported !== digest) throw new DigestMismatchError(digest, reported, 'manifest digest the registry computed');
    return { mediaType, digest, size: bytes.length };
  }

  /** HEAD a blob: its descriptor if the registry has it. */
  async blobExists(digest: Digest): Promise<{ size: number } | undefined> {
    parseDigest(digest);
    try {
      const response = await this.transport.send({
        method: 'HEAD',
        url: `/v2/${this.name}/blobs/${digest}`,
        scopes: this.scope('pull'),
        expect: [200],
        what: `blob ${digest}`,
      });
      await response.body.dump();
      return { size: Number(header(response, 'content-length')) };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * GETs a blob, or the range [offset, end] of it. A server may ignore Range and answer 200
   * with the whole blob: `status` says which happened, and callers must restart cleanly.
   */
  async fetchBlob(digest: Digest, options: BlobRange = {}): Promise<BlobResponse> {
    parseDigest(digest);
    const offset = options.offset ?? 0;
    const headers: Record<string, string> = {};
    if (offset > 0 || options.end !== undefined) headers.range = `bytes=${offset}-${options.end ?? ''}`;
    const what = `blob ${digest} of ${this.name}`;
    const response = await this.transport
      .send({ method: 'GET', url: `/v2/${this.name}/blobs/${digest}`, headers, scopes: this.scope('pull'), expect: [200, 206], what, signal: options.signal })
      .catch((error: unknown) => {
        if (!(error instanceof RegistryError) || error.request.status !== 416) throw error;
        throw new OciError('INVALID_RANGE', `Registry ${this.registry} has no bytes ${headers.range?.slice(6)} of ${what}: the range starts past its end.`, { cause: error });
      });
    const length = Number(header(response, 'content-length'));
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(response, 'content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        response.body.destroy();
        throw new OciError('REGISTRY_ERROR', `Registry ${this.registry} answered a range request for ${digest} with the wrong Content-Range (${printable(header(response, 'content-range') ?? 'none', 100)})`, { retryable: false });
      }
      return { status: 206, offset, length: Number.isFinite(length) ? length : undefined, body: response.body };
    }
    return { status: 200, offset: 0, length: Number.isFinite(length) ? length : undefined, body: response.body };
  }

  private get uploads(): BlobUploader {
    return new BlobUploader(this.transport, this.name, (digest) => this.blobExists(digest));
  }

  /**
   * Uploads a blob unless the registry already has it (distribution-spec "Push"): a cross-repository
   * mount when `mountFrom` names a repository holding it, one PUT below `monolithicThreshold`,
   * resumable chunks above it (./upload.ts).
   */
  async pushBlob(source: BlobContent, options: UploadOptions = {}): Promise<PushBlobResult> {
    if (await this.blobExists(source.digest)) return { uploaded: false };
    return this.uploads.push({ digest: source.digest, size: source.size, open: () => source.open() }, options);
  }

  /**
   * Uploads content whose digest is not known yet, in chunks, hashing it while it is sent: the source
   * is read once (a 15 GB IPSW is not read twice). The trade-off: without the digest up front no
   * HEAD can skip a blob the registry already has, so it is always sent. `size`, when given, is checked.
   */
  async pushBlobStream(open: () => Readable, size?: number, options: UploadOptions & { mediaType?: string } = {}): Promise<Descriptor> {
    const uploads = this.uploads;
    const pushed = await uploads.putChunked(await uploads.start(options.signal), open, { ...options, size });
    return { mediaType: options.mediaType ?? MediaType.octetStream, digest: pushed.digest, size: pushed.size };
  }

  /** POST /v2/<name>/blobs/uploads/ — returns the absolute upload URL. */
  async startUpload(): Promise<string> {
    return (await this.uploads.start()).location;
  }

  /**
   * Mounts a blob from another repository of this registry ("Mounting a blob from another
   * repository"): true when mounted (201); false when not (202), the session opened instead cancelled.
   */
  async mountBlob(digest: Digest, fromRepository: string): Promise<boolean> {
    const uploads = this.uploads;
    const session = await uploads.mount(digest, fromRepository);
    if (session) await uploads.cancel(session.location);
    return session === undefined;
  }

  /** DELETE /v2/<name>/manifests/<digest> ("Content Management": "Deleting Manifests"); every tag on it goes too. */
  async deleteManifest(digest: Digest): Promise<void> {
    if (!digest.includes(':')) throw new OciError('INVALID_DIGEST', `deleteManifest takes a digest, not "${digest}"; to remove a tag use deleteTag`);
    await this.delete(`/v2/${this.name}/manifests/${this.target(digest)}`, `manifest ${this.describeTarget(digest)}`);
  }

  /** DELETE /v2/<name>/blobs/<digest> ("Deleting Blobs"). Manifests that use the blob stop resolving. */
  async deleteBlob(digest: Digest): Promise<void> {
    parseDigest(digest);
    await this.delete(`/v2/${this.name}/blobs/${digest}`, `blob ${digest} of ${this.name}`);
  }

  /** DELETE /v2/<name>/manifests/<tag> ("Deleting tags"): registries MAY refuse; distribution 2.8 does (400). */
  async deleteTag(tag: string): Promise<void> {
    if (tag.includes(':')) throw new OciError('INVALID_REFERENCE', `deleteTag takes a tag, not "${tag}"; to delete by digest use deleteManifest`);
    try {
      await this.delete(`/v2/${this.name}/manifests/${this.target(tag)}`, `tag ${this.describeTarget(tag)}`);
    } catch (error) {
      if (!(error instanceof RegistryError) || ![400, 405].includes(error.request.status)) throw error;
      const message = `Registry ${this.registry} cannot delete tags (it answered HTTP ${error.request.status}; distribution 2.8 deletes manifests only by digest). Delete the manifest by digest, which removes every tag on it, or push another manifest to "${tag}".`;
      throw new RegistryError(message, error.request, error.errors);
    }
  }

  private async delete(url: string, what: string): Promise<void> {
    try {
      const response = await this.transport.send({ method: 'DELETE', url, scopes: this.scope('delete'), expect: [202], what });
      await response.body.dump();
    } catch (error) {
      if (error instanceof NotFoundError) throw new NotFoundError(`Cannot delete ${what} at ${this.registry}: it does not exist (or was deleted already).`, error.request, error.errors);
      if (error instanceof RegistryError && error.request.status === 405) {
        const message = `Deletes are disabled on this registry (${this.registry} answered 405 to deleting ${what}). Ask its operator to enable them (distribution: storage.delete.enabled: true).`;
        throw new RegistryError(message, error.request, error.errors);
      }
      throw error;
    }
  }

  /** Referrers of a manifest ("Listing Referrers"), falling back to the referrers tag schema (./referrers.ts). */
  listReferrers(digest: Digest, options: ListReferrersOptions = {}): Promise<Descriptor[]> {
    return listReferrers(this, digest, options);
  }

  /** Pushes a manifest with a `subject` and keeps the referrers tag current when the registry has no referrers API (./referrers.ts). */
  pushReferrer(bytes: Buffer, mediaType: string, subject: Pick<Descriptor, 'digest'>): Promise<PushedReferrer> {
    return pushReferrer(this, bytes, mediaType, subject);
  }

  /**
   * Lists tags ("Listing Tags"), following the Link header's pages (`n` asks for a page size).
   * Bounded (./paginate.ts): a registry offering more than `limit` tags (default 100,000) is an
   * error rather than a silent cut, and so is one that loops or never stops. Entries that are not
   * valid tags are dropped: they could not be pulled, and they would reach terminals and logs.
   */
  async listTags(options: { pageSize?: number; limit?: number; maxPages?: number; signal?: AbortSignal } = {}): Promise<string[]> {
    const what = `the tags of ${this.name}`;
    const pageSize = options.pageSize;
    const listed = await paginate<string>({
      transport: this.transport,
      first: `/v2/${this.name}/tags/list${pageSize ? `?n=${pageSize}` : ''}`,
      scopes: this.scope('pull'),
      what,
      readPage: async (response) => {
        const page = await readJsonPage(response, this.registry, what);
        return Array.isArray(page.tags) ? page.tags.filter((tag): tag is string => typeof tag === 'string' && isValidTag(tag)) : [];
      },
      maxItems: options.limit,
      maxPages: options.maxPages,
      signal: options.signal,
    });
    if (listed.truncated) {
      throw new OciError('REGISTRY_ERROR', `Registry ${this.registry} lists more than ${listed.items.length} tags for ${this.name}; stopped reading there. Raise the limit if this repository really holds that many.`, { retryable: false });
    }
    return listed.items;
  }
}
