// One repository's API (OCI distribution-spec v1.1): manifests, blobs, tags.
import type { Readable } from 'node:stream';
import { parseDigest, sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, ManifestTooLargeError, NotFoundError, OciError } from '../errors.ts';
import type { HttpResponse, RegistryTransport } from '../http/transport.ts';
import { parseManifest, type Descriptor, type Manifest } from '../manifest.ts';
import { manifestMediaTypes, MediaType } from '../media-types.ts';
import { isValidTag } from '../reference.ts';

export interface FetchedManifest {
  descriptor: Descriptor;
  manifest: Manifest;
  bytes: Buffer;
}

export interface BlobResponse {
  /** 200 for the whole blob, 206 for a range. */
  status: 200 | 206;
  /** Offset of the first byte in `body`. */
  offset: number;
  /** Bytes in `body`, when the server said. */
  length?: number;
  body: HttpResponse['body'];
}

export interface BlobSource {
  digest: Digest;
  size: number;
  mediaType?: string;
  /** Opens the content from the start; called again for a retry. */
  open(): Readable | Buffer;
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class Repository {
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

  /**
   * Resolves a tag or digest to a descriptor with HEAD (distribution-spec "Checking if content
   * exists"). Falls back to GET when the registry omits Docker-Content-Digest.
   */
  async resolve(reference: string, accept: readonly string[] = manifestMediaTypes): Promise<Descriptor> {
    const target = this.target(reference);
    let response: HttpResponse;
    try {
      response = await this.transport.send({
        method: 'HEAD',
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
    let response: HttpResponse;
    try {
      response = await this.transport.send({
        method: 'GET',
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
    const request = { method: 'GET', url: response.url, status: response.status };
    const declared = Number(header(response, 'content-length'));
    if (Number.isFinite(declared) && declared > this.maxManifestBytes) {
      response.body.destroy();
      throw new ManifestTooLargeError(declared, this.maxManifestBytes, request);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of response.body) {
      total += (chunk as Buffer).length;
      if (total > this.maxManifestBytes) {
        response.body.destroy();
        throw new ManifestTooLargeError(total, this.maxManifestBytes, request);
      }
      chunks.push(chunk as Buffer);
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
  async fetchBlob(digest: Digest, options: { offset?: number; end?: number; signal?: AbortSignal } = {}): Promise<BlobResponse> {
    parseDigest(digest);
    const offset = options.offset ?? 0;
    const headers: Record<string, string> = {};
    if (offset > 0 || options.end !== undefined) headers.range = `bytes=${offset}-${options.end ?? ''}`;
    const response = await this.transport.send({
      method: 'GET',
      url: `/v2/${this.name}/blobs/${digest}`,
      headers,
      scopes: this.scope('pull'),
      expect: [200, 206],
      what: `blob ${digest} of ${this.name}`,
      signal: options.signal,
    });
    const length = Number(header(response, 'content-length'));
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header(response, 'content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        response.body.destroy();
        throw new OciError('REGISTRY_ERROR', `Registry ${this.registry} answered a range request for ${digest} with the wrong Content-Range (${header(response, 'content-range')})`);
      }
      return { status: 206, offset, length: Number.isFinite(length) ? length : undefined, body: response.body };
    }
    return { status: 200, offset: 0, length: Number.isFinite(length) ? length : undefined, body: response.body };
  }

  /** Uploads a blob unless the registry already has it; monolithic POST + PUT. */
  async pushBlob(source: BlobSource): Promise<{ uploaded: boolean }> {
    if (await this.blobExists(source.digest)) return { uploaded: false };
    const location = await this.startUpload();
    const url = new URL(location);
    url.searchParams.set('digest', source.digest);
    const body = source.open();
    const response = await this.transport.send({
      method: 'PUT',
      url: url.toString(),
      headers: { 'content-type': MediaType.octetStream, 'content-length': String(source.size) },
      body,
      scopes: this.scope('pull,push'),
      expect: [201],
      what: `upload of blob ${source.digest}`,
    });
    await response.body.dump();
    return { uploaded: true };
  }

  /** POST /v2/<name>/blobs/uploads/ — returns the absolute upload URL. */
  async startUpload(): Promise<string> {
    const response = await this.transport.send({
      method: 'POST',
      url: `/v2/${this.name}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      scopes: this.scope('pull,push'),
      expect: [202],
      what: `an upload session in ${this.name}`,
    });
    await response.body.dump();
    const location = header(response, 'location');
    if (!location) throw new OciError('REGISTRY_ERROR', `Registry ${this.registry} started an upload without a Location header`);
    return new URL(location, response.url).toString();
  }

  /** Lists tags, following pagination (`n`, `last`, and the Link header). */
  async listTags(options: { pageSize?: number } = {}): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = `/v2/${this.name}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    while (url) {
      const response: HttpResponse = await this.transport.send({
        method: 'GET',
        url,
        scopes: this.scope('pull'),
        expect: [200],
        what: `the tags of ${this.name}`,
      });
      const page = (await response.body.json()) as { tags?: string[] | null };
      tags.push(...(page.tags ?? []));
      const link = header(response, 'link');
      const next = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      url = next ? new URL(next, response.url).toString() : undefined;
    }
    return tags;
  }
}
