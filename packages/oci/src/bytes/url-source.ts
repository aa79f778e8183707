// A file on a web server as a ByteSource (./byte-source.ts), read with HTTP Range requests
// (RFC 9110 §14) so that an IPSW can be inspected and published straight from Apple's CDN (or
// any mirror) without a copy on local disk. The file is pinned when first opened: its size
// (Content-Range total or Content-Length) and its validator (a strong ETag, else Last-Modified)
// go into If-Range on every later request, so a file that changes half-way is an error instead
// of a silent mix of two files. A stream resumes by itself after a dropped or stalled connection
// at the byte it reached, never delivering a byte twice or skipping one, within bounds: a number
// of requests in a row without a byte, a number of requests in all, and a time limit.
//
// The URL carries no secret of ours: no registry credentials are ever sent to it, and people
// read it without its query (pre-signed URLs keep their signature there).
import { Readable } from 'node:stream';
import { OciError } from '../errors.ts';
import { backoffDelay, sleep } from '../http/backoff.ts';
import { displayUrl, getFollowingRedirects } from '../http/download.ts';
import { HttpClient, type HttpResponseData } from '../http/http-client.ts';
import { describeNetworkError, errorCode, isTransientNetworkError } from '../http/transport.ts';
import type { ByteSource } from './byte-source.ts';

export { displayUrl };

const MiB = 1024 * 1024;

export interface UrlSourceOptions {
  /** Redirects followed per request (default 5). */
  maxRedirects?: number;
  /** A request that gets neither headers nor body bytes for this long is abandoned and resumed (default 30 s). */
  idleTimeoutMs?: number;
  /** Requests in a row that bring no byte before a read or stream gives up (default 6); bytes flowing resets it. */
  attempts?: number;
  /** Requests one stream may make in all, resumptions included (default 1,000). */
  maxRequestsPerStream?: number;
  /** Time one stream may take, resumptions included (default 24 h). */
  streamTimeoutMs?: number;
  /** Backoff between attempts: full jitter from this base (default 500 ms) up to retryMaxMs (default 15 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  userAgent?: string;
  /** Certificate authorities for https, instead of Node's bundled ones. */
  ca?: string | Buffer | (string | Buffer)[];
  /**
   * Refuse link-local and cloud-metadata addresses for the URL itself too (redirects are always
   * checked): for a server that fetches URLs it did not choose, e.g. from a catalog.
   */
  guardAddresses?: boolean;
  signal?: AbortSignal;
}

const retryableStatuses = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Whether a command-line argument names a URL (http or https) rather than a local file. */
export function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function header(response: HttpResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `bytes <first>-<last>/<total>` (RFC 9110 §14.4); total undefined when `*`. */
function parseContentRange(value: string | undefined): { first: number; last: number; total: number | undefined } | undefined {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return undefined;
  const [first, last] = [Number(match[1]), Number(match[2])];
  const total = match[3] === '*' ? undefined : Number(match[3]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first || (total !== undefined && (!Number.isSafeInteger(total) || last >= total))) return undefined;
  return { first, last, total };
}

function stalledError(ms: number): Error {
  return Object.assign(new Error(`no data for ${Math.round(ms / 1000)} s`), { code: 'ESTALLED' });
}

/** What the server's file is pinned to. */
interface Pin {
  size: number;
  /** A strong ETag (weak ones may not be used in If-Range, RFC 9110 §13.1.5). */
  etag?: string;
  lastModified?: string;
}

/**
 * One request's abort and idle timer: the timer runs while we wait for headers or the next body
 * bytes (never while the consumer is busy), and its firing aborts the request as a stall.
 */
class Exchange {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stalled = false;
  private readonly onOuterAbort = () => this.controller.abort();

  constructor(
    private readonly idleMs: number,
    private readonly outer: AbortSignal | undefined,
  ) {
    if (outer?.aborted) this.controller.abort();
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async wait<T>(promise: Promise<T>): Promise<T> {
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.controller.abort();
    }, this.idleMs);
    try {
      return await promise;
    } catch (error) {
      if (this.outer?.aborted) throw this.outer.reason;
      throw this.stalled ? stalledError(this.idleMs) : error;
    } finally {
      clearTimeout(this.timer);
    }
  }

  end(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}

class UrlByteSource implements ByteSource {
  readonly name: string;
  readonly description: string;
  size = 0;
  private pin: Pin = { size: 0 };
  private readonly url: URL;
  private readonly client: HttpClient;
  private readonly maxRedirects: number;
  private readonly idleMs: number;
  private readonly attempts: number;
  private readonly maxRequests: number;
  private readonly streamTimeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly userAgent: string;
  private readonly guardFirstHop: boolean;

  constructor(url: URL, options: UrlSourceOptions) {
    this.url = url;
    this.description = displayUrl(url);
    const last = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    this.name = last && !last.includes('/') && last !== '.' && last !== '..' ? last : 'download';
    this.client = new HttpClient({ maxSocketsPerOrigin: 4, ca: options.ca });
    this.maxRedirects = options.maxRedirects ?? 5;
    this.idleMs = options.idleTimeoutMs ?? 30_000;
    this.attempts = options.attempts ?? 6;
    this.maxRequests = options.maxRequestsPerStream ?? 1000;
    this.streamTimeoutMs = options.streamTimeoutMs ?? 24 * 3600_000;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 15_000;
    this.userAgent = options.userAgent ?? 'cider';
    this.guardFirstHop = options.guardAddresses === true;
  }

  /** GET, following redirects (never from https to http); `range` is [start, end). */
  private get(exchange: Exchange, range: [number, number] | undefined, conditional: boolean): Promise<HttpResponseData> {
    const headers: Record<string, string> = { 'user-agent': this.userAgent, 'accept-encoding': 'identity' };
    if (range) headers.range = `bytes=${range[0]}-${range[1] - 1}`;
    const validator = this.pin.etag ?? this.pin.lastModified;
    if (range && conditional && validator) headers['if-range'] = validator;
    return getFollowingRedirects(this.client, this.url, {
      headers,
      signal: exchange.signal,
      maxRedirects: this.maxRedirects,
      guardFirstHop: this.guardFirstHop,
      what: this.description,
      wait: (request) => exchange.wait(request),
    });
  }

  /** An answer that is neither the bytes nor a redirect, in words people can act on. */
  private statusError(response: HttpResponseData): OciError {
    const status = response.statusCode;
    response.body.destroy();
    if (status === 404 || status === 410) return new OciError('NOT_FOUND', `${this.description} was not found (HTTP ${status}); check the URL`);
    if (status === 401 || status === 403) {
      return new OciError('DENIED', `${this.description} refused the download (HTTP ${status}); cider sends no credentials to download URLs, so use a public or pre-signed link`);
    }
    if (retryableStatuses.has(status)) return new OciError('UNREACHABLE', `${this.description} answered HTTP ${status} (the server is busy or failing)`, { retryable: true });
    return new OciError('UNREACHABLE', `${this.description} answered HTTP ${status} instead of the file`, { retryable: false });
  }

  private changed(detail: string): OciError {
    return new OciError('SIZE_MISMATCH', `${this.description} changed while it was being read (${detail}); nothing mixes two versions of a file, so start again`);
  }

  /** Throws when a response is for another version of the file than the pinned one. */
  private checkPinned(response: HttpResponseData): void {
    const etag = header(response, 'etag');
    if (this.pin.etag && etag && etag !== this.pin.etag) throw this.changed(`its ETag was ${this.pin.etag}, now ${etag}`);
    const modified = header(response, 'last-modified');
    if (!this.pin.etag && this.pin.lastModified && modified && modified !== this.pin.lastModified) throw this.changed(`last modified ${this.pin.lastModified}, now ${modified}`);
  }

  private ignoresRange(position: number): OciError {
    return new OciError(
      'INVALID_RANGE',
      `${this.description} ignores Range requests (it sent the whole file, HTTP 200, when asked for bytes from ${position}); cider reads an IPSW's directory and resumes a download with ranges, so use a server or mirror that supports them`,
    );
  }

  /**
   * Checks a response to a ranged request for [start, end): the range asked for (or a shorter
   * one from `start`) of the pinned file. Returns the bytes the body holds, or undefined for a
   * whole-file 200 (the caller decides whether it can use one).
   */
  private checkRanged(response: HttpResponseData, start: number, end: number): number | undefined {
    const status = response.statusCode;
    if (status === 200) {
      this.checkPinned(response);
      const length = Number(header(response, 'content-length'));
      if (Number.isSafeInteger(length) && length !== this.size) throw this.changed(`${this.size} bytes, now ${length}`);
      return undefined;
    }
    if (status !== 206) throw this.statusError(response);
    this.checkPinned(response);
    const range = parseContentRange(header(response, 'content-range'));
    if (!range) throw new OciError('INVALID_RANGE', `${this.description} answered a range request with an unreadable Content-Range (${header(response, 'content-range') ?? 'none'})`);
    if (range.total !== undefined && range.total !== this.size) throw this.changed(`${this.size} bytes, now ${range.total}`);
    if (range.first !== start || range.last >= end) throw new OciError('INVALID_RANGE', `${this.description} sent bytes ${range.first}-${range.last} when asked for ${start}-${end - 1}`);
    return range.last + 1 - start;
  }

  private networkError(error: unknown, doing: string): unknown {
    if (error instanceof OciError) return error;
    if (isTransientNetworkError(error) || errorCode(error) === 'ENOTFOUND' || errorCode(error) === 'EFORBIDDENADDRESS') {
      return new OciError('UNREACHABLE', `Cannot ${doing} ${this.description}: ${describeNetworkError(error, 'server')}`, { cause: error, retryable: isTransientNetworkError(error) });
    }
    return error;
  }

  private retryable(error: unknown): boolean {
    return error instanceof OciError ? error.retryable : false;
  }

  /** Learns the size and validator: `Range: bytes=0-0` (a HEAD is not always answered like a GET). */
  async open(signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const exchange = new Exchange(this.idleMs, signal);
      try {
        const response = await this.get(exchange, [0, 1], false);
        response.body.destroy();
        const etag = header(response, 'etag');
        const lastModified = header(response, 'last-modified');
        const strong = etag && !etag.startsWith('W/') ? etag : undefined;
        if (response.statusCode === 206) {
          const range = parseContentRange(header(response, 'content-range'));
          if (range?.total === undefined) throw new OciError('INVALID_RANGE', `${this.description} does not say how large it is (Content-Range: ${header(response, 'content-range') ?? 'none'})`);
          this.pin = { size: range.total, etag: strong, lastModified };
        } else if (response.statusCode === 200) {
          const length = Number(header(response, 'content-length'));
          if (!Number.isSafeInteger(length) || length < 0) throw new OciError('INVALID_RANGE', `${this.description} does not say how large it is (no Content-Length) and ignores Range requests`);
          this.pin = { size: length, etag: strong, lastModified };
        } else if (response.statusCode === 416 && /^bytes \*\/0$/.test(header(response, 'content-range') ?? '')) {
          this.pin = { size: 0, etag: strong, lastModified };
        } else {
          throw this.statusError(response);
        }
        this.size = this.pin.size;
        return;
      } catch (error) {
        const described = this.networkError(error, 'download');
        if (signal?.aborted || !this.retryable(described) || attempt >= this.attempts) throw described;
        await sleep(backoffDelay(attempt - 1, this.retryBaseMs, this.retryMaxMs), signal);
      } finally {
        exchange.end();
      }
    }
  }

  async read(position: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0 || position + length > this.size) {
      throw new OciError('INVALID_RANGE', `Bytes ${position}+${length} are outside ${this.description} (${this.size} bytes)`);
    }
    if (length === 0) return Buffer.alloc(0);
    for (let attempt = 1; ; attempt++) {
      const exchange = new Exchange(this.idleMs, signal);
      try {
        const response = await this.get(exchange, [position, position + length], true);
        const sent = this.checkRanged(response, position, position + length);
        if (sent === undefined) {
          response.body.destroy();
          throw this.ignoresRange(position);
        }
        const bytes = await exchange.wait(response.body.buffer(sent));
        if (bytes.length !== length) throw Object.assign(new Error(`connection closed after ${bytes.length} of ${length} bytes`), { code: 'ECONNRESET' });
        return bytes;
      } catch (error) {
        const described = this.networkError(error, 'read');
        if (signal?.aborted || !this.retryable(described) || attempt >= this.attempts) throw described;
        await sleep(backoffDelay(attempt - 1, this.retryBaseMs, this.retryMaxMs), signal);
      } finally {
        exchange.end();
      }
    }
  }

  /** Bytes [start, end), resumed at the byte reached after a drop or a stall. */
  private async *chunks(start: number, end: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    let position = start;
    let fruitless = 0;
    const deadline = Date.now() + this.streamTimeoutMs;
    for (let requests = 1; position < end; requests++) {
      const exchange = new Exchange(this.idleMs, signal);
      const before = position;
      let response: HttpResponseData | undefined;
      try {
        response = await this.get(exchange, [position, end], true);
        let sent = this.checkRanged(response, position, end);
        if (sent === undefined) {
          // The whole file: usable only when we want it from its first byte.
          if (position !== 0) throw this.ignoresRange(position);
          sent = end;
        }
        const iterator = response.body[Symbol.asyncIterator]();
        let remaining = sent;
        while (remaining > 0) {
          const next = await exchange.wait(iterator.next());
          if (next.done) throw Object.assign(new Error(`connection closed at byte ${position}`), { code: 'ECONNRESET' });
          const chunk = next.value.length > remaining ? next.value.subarray(0, remaining) : next.value;
          remaining -= chunk.length;
          position += chunk.length;
          fruitless = 0;
          yield chunk;
        }
      } catch (error) {
        const described = this.networkError(error, 'download');
        if (signal.aborted || !this.retryable(described)) throw described;
        if (position === before) fruitless++;
        const why = described instanceof Error ? described.message : String(described);
        if (fruitless >= this.attempts) throw new OciError('UNREACHABLE', `${why}; gave up at byte ${position} of ${this.size} after ${fruitless} attempts in a row without progress`, { cause: error, retryable: true });
        if (requests >= this.maxRequests || Date.now() >= deadline) throw new OciError('UNREACHABLE', `${why}; gave up at byte ${position} of ${this.size} after ${requests} requests`, { cause: error, retryable: true });
        await sleep(position === before ? backoffDelay(fruitless - 1, this.retryBaseMs, this.retryMaxMs) : this.retryBaseMs / 2, signal);
      } finally {
        exchange.end();
        response?.body.destroy();
      }
    }
  }

  stream(start: number, end: number, signal?: AbortSignal): Readable {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > this.size) {
      throw new OciError('INVALID_RANGE', `Bytes ${start}-${end} are outside ${this.description} (${this.size} bytes)`);
    }
    // Destroying the stream aborts a request in flight, even one waiting on a silent server.
    const stop = new AbortController();
    const chunks = this.chunks(start, end, signal ? AbortSignal.any([signal, stop.signal]) : stop.signal);
    let pending = false;
    return new Readable({
      highWaterMark: MiB,
      read() {
        if (pending) return;
        pending = true;
        chunks.next().then(
          (next) => {
            pending = false;
            this.push(next.done ? null : next.value);
          },
          (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
        );
      },
      destroy(error, callback) {
        stop.abort();
        chunks.return(undefined).catch(() => {});
        callback(error);
      },
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/**
 * Opens a URL (http or https) as a ByteSource: one request learns its size and pins its version.
 * Errors are OciErrors that say what happened in words a person can act on.
 */
export async function urlSource(url: string | URL, options: UrlSourceOptions = {}): Promise<ByteSource> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OciError('INVALID_REFERENCE', `"${String(url)}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OciError('INVALID_REFERENCE', `${displayUrl(parsed)}: only http and https URLs can be read`);
  const source = new UrlByteSource(parsed, options);
  try {
    await source.open(options.signal);
  } catch (error) {
    await source.close();
    throw error;
  }
  return source;
}
