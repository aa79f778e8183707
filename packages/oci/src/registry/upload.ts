// Blob uploads (distribution-spec v1.1 "Push"): monolithic POST + PUT, chunked POST + PATCH… + PUT
// that resumes from the upload status, and cross-repository mounts. A chunked upload holds two
// chunks in memory whatever the blob's size (one on the wire, the next being read), and can hash
// while it sends (the closing PUT is the first request that needs the digest).
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, NotFoundError, OciError, RegistryError, SizeMismatchError, UnauthorizedError, UnreachableError } from '../errors.ts';
import { backoffDelay, sleep } from '../http/backoff.ts';
import type { HttpResponse, RegistryTransport } from '../http/transport.ts';
import { MediaType } from '../media-types.ts';
import type { PushBlobResult } from '../source.ts';

const MiB = 1024 * 1024;
/** Two chunk buffers are held at once (one on the wire, one being read), so 64 MiB in all. */
export const defaultChunkSize = 32 * MiB;
export const defaultMonolithicThreshold = 64 * MiB;
/** Consecutive failures of one chunk (or of the status request after it) before giving up. */
const chunkAttempts = 5;
/** Fresh sessions after the registry lost one (404 on the upload URL) before giving up. */
const sessionRestarts = 3;
const retryBaseMs = 200;
const retryMaxMs = 10_000;

export interface UploadOptions {
  /** Bytes per PATCH, raised to the registry's OCI-Chunk-Min-Length. Default 32 MiB; twice that is held in memory. */
  chunkSize?: number;
  /** Blobs smaller than this go in one PUT; larger ones in chunks. Default 64 MiB. */
  monolithicThreshold?: number;
  /** Repositories on the same registry that may hold the blob: a cross-repository mount is tried first. */
  mountFrom?: string[];
  /** Bytes the registry has accepted so far (it can go back after the registry lost a session). */
  onProgress?: (bytesUploaded: number) => void;
  signal?: AbortSignal;
}

/** An open upload session: its `<blob-push-location>` and the registry's minimum chunk. */
export interface UploadSession {
  location: string;
  /** OCI-Chunk-Min-Length from the POST response; 0 when absent. */
  minChunkLength: number;
}

type Source = () => Readable | Buffer;

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The offset after `Range: 0-<end>` (inclusive; some registries write `bytes=0-<end>`).
 * Distribution answers `0-0` for an empty session too, so `0-0` means one byte only when the
 * client believes it sent exactly one.
 */
function rangeOffset(value: string | undefined, believed: number): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(?:bytes=)?0-(\d+)$/.exec(value.trim());
  if (!match) return undefined;
  const end = Number(match[1]);
  return end === 0 && believed !== 1 ? 0 : end + 1;
}

/** Worth another try: network failures, 408/429/5xx, 416 (re-sync), a lost session, an expired token. */
function retryable(error: unknown): boolean {
  if (error instanceof UnreachableError || error instanceof NotFoundError) return true;
  if (error instanceof UnauthorizedError) return error.code === 'UNAUTHORIZED';
  return error instanceof RegistryError && [408, 416, 429, 500, 502, 503, 504].includes(error.request.status);
}

/** Reads a source front to back into caller-owned buffers, hashing what it reads; `rewind` starts over. */
class SourceReader {
  position = 0;
  private stream!: Readable;
  private iterator!: AsyncIterator<unknown>;
  private leftover: Buffer = Buffer.alloc(0);
  private hash: Hash | undefined;

  constructor(
    private readonly open: Source,
    private readonly hashing: boolean,
  ) {
    this.rewind();
  }

  rewind(): void {
    this.stream?.destroy();
    const source = this.open();
    this.stream = Buffer.isBuffer(source) ? Readable.from(source) : source;
    this.iterator = this.stream[Symbol.asyncIterator]();
    this.leftover = Buffer.alloc(0);
    this.position = 0;
    this.hash = this.hashing ? createHash('sha256') : undefined;
  }

  /** Fills `into`; returns the bytes read, fewer only at the end of the source. */
  async fill(into: Buffer): Promise<number> {
    let filled = 0;
    while (filled < into.length) {
      if (this.leftover.length === 0) {
        const next = await this.iterator.next();
        if (next.done) break;
        this.leftover = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as Uint8Array);
      }
      const copied = this.leftover.copy(into, filled);
      this.leftover = this.leftover.subarray(copied);
      filled += copied;
    }
    this.hash?.update(into.subarray(0, filled));
    this.position += filled;
    return filled;
  }

  /** Starts over and reads (and hashes) up to `offset`, using `scratch` as the buffer. */
  async rewindTo(offset: number, scratch: Buffer): Promise<void> {
    this.rewind();
    while (this.position < offset) {
      if ((await this.fill(scratch.subarray(0, Math.min(scratch.length, offset - this.position)))) === 0) {
        throw new OciError('REGISTRY_ERROR', `The blob source ended at ${this.position} bytes while resuming an upload at ${offset}`, { retryable: false });
      }
    }
  }

  digest(): Digest {
    // A caller's mistake inside this file (digest() of a reader made without hashing), never a failure a user sees.
    if (!this.hash) throw new Error('SourceReader was created without hashing');
    return `sha256:${this.hash.digest('hex')}`;
  }

  close(): void {
    this.stream.destroy();
  }
}

/** Uploads into one repository. */
export class BlobUploader {
  constructor(
    private readonly transport: RegistryTransport,
    private readonly repository: string,
    /** HEAD of a blob, to tell a lost response to the closing PUT from a failed upload. */
    private readonly exists: (digest: Digest) => Promise<{ size: number } | undefined>,
  ) {}

  private get scopes(): string[] {
    return [`repository:${this.repository}:pull,push`];
  }

  private session(response: HttpResponse): UploadSession {
    const location = header(response, 'location');
    if (!location) throw new OciError('REGISTRY_ERROR', `Registry ${this.transport.registry} opened an upload in ${this.repository} without a Location header`, { retryable: false });
    const min = Number(header(response, 'oci-chunk-min-length'));
    return { location: new URL(location, response.url).toString(), minChunkLength: Number.isSafeInteger(min) && min > 0 ? min : 0 };
  }

  /** POST /v2/<name>/blobs/uploads/ ("Pushing a blob monolithically": "POST then PUT"; "Pushing a blob in chunks"). */
  async start(signal?: AbortSignal): Promise<UploadSession> {
    const url = `/v2/${this.repository}/blobs/uploads/`;
    const response = await this.transport.send({ method: 'POST', url, headers: { 'content-length': '0' }, scopes: this.scopes, expect: [202], what: `an upload session in ${this.repository}`, signal });
    await response.body.dump();
    return this.session(response);
  }

  /**
   * POST ?mount=<digest>&from=<repository> ("Mounting a blob from another repository"). 201: mounted,
   * returns undefined. 202: not mounted, and the upload session the registry opened instead is
   * returned for the caller to use or cancel.
   */
  async mount(digest: Digest, from: string, signal?: AbortSignal): Promise<UploadSession | undefined> {
    parseDigest(digest);
    const query = new URLSearchParams({ mount: digest, from });
    const [url, what] = [`/v2/${this.repository}/blobs/uploads/?${query}`, `a mount of blob ${digest} from ${from} into ${this.repository}`];
    const scopes = [...this.scopes, `repository:${from}:pull`];
    const response = await this.transport.send({ method: 'POST', url, headers: { 'content-length': '0' }, scopes, expect: [201, 202], what, signal });
    if (response.status === 202) return this.session(response);
    await response.body.dump();
    return undefined;
  }

  /** GET <location> -> 204 with `Range: 0-<end>` ("Pushing a blob in chunks": the status after a 416 or a failure). */
  async status(location: string, believed: number, signal?: AbortSignal): Promise<{ location: string; offset: number }> {
    const response = await this.transport.send({ method: 'GET', url: location, scopes: this.scopes, expect: [204], what: `the status of an upload to ${this.repository}`, signal });
    await response.body.dump();
    const next = header(response, 'location');
    return { location: next ? new URL(next, response.url).toString() : location, offset: rangeOffset(header(response, 'range'), believed) ?? 0 };
  }

  /** DELETE <location> ("Cancel a blob upload"); failures are ignored, as the spec advises. */
  async cancel(location: string): Promise<void> {
    try {
      const response = await this.transport.send({ method: 'DELETE', url: location, scopes: this.scopes, expect: [202, 204], what: `cancelling an upload to ${this.repository}` });
      await response.body.dump();
    } catch {
      // The registry times abandoned sessions out on its own.
    }
  }

  /** Uploads a blob whose digest is known: a mount when a candidate holds it, else one PUT or chunks by size. */
  async push(source: { digest: Digest; size: number; open: Source }, options: UploadOptions = {}): Promise<PushBlobResult> {
    let session: UploadSession | undefined;
    for (const from of options.mountFrom ?? []) {
      if (from === this.repository) continue;
      if (session) await this.cancel(session.location);
      session = await this.mount(source.digest, from, options.signal);
      if (!session) return { uploaded: false, mountedFrom: from };
    }
    session ??= await this.start(options.signal);
    if (source.size < (options.monolithicThreshold ?? defaultMonolithicThreshold)) {
      await this.putWhole(session, source, options.signal);
      options.onProgress?.(source.size);
    } else {
      await this.putChunked(session, source.open, { ...options, digest: source.digest, size: source.size });
    }
    return { uploaded: true };
  }

  /**
   * PUT <location>?digest= with the whole blob ("POST then PUT"). A stream is sent once, so a
   * failed attempt is retried with a fresh session and the source opened again.
   */
  private async putWhole(session: UploadSession, source: { digest: Digest; size: number; open: Source }, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const url = new URL(session.location);
      url.searchParams.set('digest', source.digest);
      try {
        const headers = { 'content-type': MediaType.octetStream, 'content-length': String(source.size) };
        const what = `upload of blob ${source.digest} to ${this.repository}`;
        const response = await this.transport.send({ method: 'PUT', url: url.toString(), headers, body: source.open(), scopes: this.scopes, expect: [201], what, signal });
        await response.body.dump();
        return;
      } catch (error) {
        await this.cancel(session.location);
        if (signal?.aborted || !retryable(error) || attempt >= sessionRestarts) throw error;
        await sleep(backoffDelay(attempt, retryBaseMs, retryMaxMs), signal);
        session = await this.start(signal);
      }
    }
  }

  /** PATCH one chunk ("Pushing a blob in chunks"); returns the next location and the offset the registry reports. */
  private async patch(session: UploadSession, offset: number, piece: Buffer, signal?: AbortSignal): Promise<{ location: string; offset: number }> {
    const end = offset + piece.length;
    const headers = { 'content-type': MediaType.octetStream, 'content-range': `${offset}-${end - 1}`, 'content-length': String(piece.length) };
    const what = `bytes ${offset}-${end - 1} of an upload to ${this.repository}`;
    // A stream, not the Buffer: the transport would replay a Buffer blindly, and a registry that kept
    // part of the chunk would then hold bytes twice. A failed chunk is re-synced from the status instead.
    const response = await this.transport.send({ method: 'PATCH', url: session.location, headers, body: Readable.from(piece), scopes: this.scopes, expect: [202], what, signal });
    await response.body.dump();
    const next = header(response, 'location');
    return { location: next ? new URL(next, response.url).toString() : session.location, offset: rangeOffset(header(response, 'range'), end) ?? end };
  }

  /**
   * Sends the source in chunks, then closes the session with PUT ?digest=. After a failed chunk
   * (network, 5xx, 416) it asks the upload status and resumes at the offset the registry holds;
   * when the registry no longer knows the session (404: distribution 2.8 once it kept part of a
   * chunk) it starts a fresh one from byte 0. Without `digest`, the content is hashed as it is read.
   */
  async putChunked(session: UploadSession, open: Source, options: UploadOptions & { digest?: Digest; size?: number } = {}): Promise<{ digest: Digest; size: number }> {
    const bufferSize = Math.max(options.chunkSize ?? defaultChunkSize, session.minChunkLength, 1);
    // Two buffers: while one chunk is on the wire, the next is read (and hashed) into the other,
    // so reading the source and the registry taking the bytes overlap instead of taking turns.
    let buffer: Buffer = Buffer.allocUnsafe(bufferSize);
    let spare: Buffer | undefined;
    let prefetch: Promise<number> | undefined; // reader.fill(spare): the chunk after `buffer`
    const reader = new SourceReader(open, options.digest === undefined);
    let chunkStart = 0; // `buffer` holds bytes [chunkStart, chunkStart + chunkLength)
    let chunkLength = 0;
    let offset = 0; // bytes the registry holds
    let failures = 0;
    let restarts = 0;
    let resync = false;
    const overclaim = (claimed: number) => new NotFoundError(`Registry ${this.transport.registry} claims ${claimed} bytes of an upload that sent ${chunkStart + chunkLength}`);
    /** Drops the read-ahead (the reader is about to start over); waits for it so reads never overlap. */
    const dropPrefetch = async () => {
      if (prefetch) await prefetch.catch(() => 0);
      prefetch = undefined;
    };
    try {
      for (;;) {
        try {
          if (resync) {
            const status = await this.status(session.location, offset, options.signal);
            if (status.offset > chunkStart + chunkLength) throw overclaim(status.offset);
            session = { ...session, location: status.location };
            offset = status.offset;
            resync = false;
          }
          if (offset === chunkStart + chunkLength) {
            chunkStart = offset;
            if (prefetch) {
              chunkLength = await prefetch;
              prefetch = undefined;
              [buffer, spare] = [spare!, buffer];
            } else {
              chunkLength = await reader.fill(buffer);
            }
            if (chunkLength === 0) break;
          } else if (offset < chunkStart) {
            // The registry holds less than the buffered chunk starts at: read the source again.
            await dropPrefetch();
            await reader.rewindTo(offset, buffer);
            chunkStart = offset;
            chunkLength = await reader.fill(buffer);
          }
          // Read ahead only when the reader stands right after this chunk and the source may have more.
          if (!prefetch && reader.position === chunkStart + chunkLength && chunkLength === buffer.length) {
            spare ??= Buffer.allocUnsafe(bufferSize);
            prefetch = reader.fill(spare);
            prefetch.catch(() => {}); // awaited later; a failure surfaces there
          }
          const accepted = await this.patch(session, offset, buffer.subarray(offset - chunkStart, chunkLength), options.signal);
          session = { ...session, location: accepted.location };
          if (accepted.offset > chunkStart + chunkLength) throw overclaim(accepted.offset);
          offset = accepted.offset;
          failures = 0;
          options.onProgress?.(offset);
        } catch (error) {
          if (options.signal?.aborted || !retryable(error)) throw error;
          if (resync && error instanceof NotFoundError) {
            if (++restarts > sessionRestarts) throw new OciError('REGISTRY_ERROR', `Registry ${this.transport.registry} lost the upload to ${this.repository} ${restarts} times (${error.message})`, { retryable: true });
            await this.cancel(session.location);
            session = await this.start(options.signal);
            offset = 0;
            resync = false;
            continue;
          }
          if (++failures > chunkAttempts) throw error;
          await sleep(backoffDelay(failures - 1, retryBaseMs, retryMaxMs), options.signal);
          resync = true;
        }
      }
      if (options.size !== undefined && offset !== options.size) throw new SizeMismatchError(options.size, offset, `blob uploaded to ${this.repository}`);
      const digest = options.digest ?? reader.digest();
      await this.close(session, digest, offset, options.signal);
      return { digest, size: offset };
    } catch (error) {
      await this.cancel(session.location);
      throw error;
    } finally {
      await dropPrefetch();
      reader.close();
    }
  }

  /** The closing PUT <location>?digest= with an empty body; 201 when the registry verified the digest. */
  private async close(session: UploadSession, digest: Digest, size: number, signal?: AbortSignal): Promise<void> {
    const url = new URL(session.location);
    url.searchParams.set('digest', digest);
    try {
      const what = `the end of the upload of blob ${digest} to ${this.repository}`;
      const response = await this.transport.send({ method: 'PUT', url: url.toString(), headers: { 'content-length': '0' }, scopes: this.scopes, expect: [201], what, signal });
      await response.body.dump();
      const reported = header(response, 'docker-content-digest');
      if (reported?.startsWith('sha256:') && reported !== digest) throw new DigestMismatchError(digest, reported, 'blob digest the registry computed');
    } catch (error) {
      // A retried PUT finds the session gone when the first one landed but its answer was lost.
      if (error instanceof NotFoundError && (await this.exists(digest))?.size === size) return;
      throw error;
    }
  }
}
