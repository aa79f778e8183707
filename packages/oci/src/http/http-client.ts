// HTTP/1.1 on node:http and node:https with keep-alive pools. Chosen over undici because the
// agent and CLI live on Macs next to VMs: undici compiles its WASM parser at first use, which
// costs ~55 MB of peak memory, while node:http's parser is native. Throughput is the same for
// our large sequential bodies.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { forbiddenAddressError, forbiddenHostReason, guardedLookup } from './address-policy.ts';

export type Headers = IncomingHttpHeaders;

export interface HttpClientOptions {
  /** Sockets per origin (parallel range requests use several). */
  maxSocketsPerOrigin?: number;
  /** Give up on a connection attempt after this long. */
  connectTimeoutMs?: number;
  /** Certificate authorities to trust for https, instead of Node's bundled ones (a private registry's CA, a test's). */
  ca?: string | Buffer | (string | Buffer)[];
}

/** What a body read takes by default: enough for any error, token or JSON answer; blobs are streamed, never read whole. */
export const defaultBodyLimit = 1024 * 1024;
/** What a response to be thrown away is read to: past this the connection is closed instead of drained. */
const discardLimit = 64 * 1024;

export interface SendOptions {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
  /** Abort when neither headers nor body bytes arrive for this long: stalls are found by lack of progress. */
  idleTimeoutMs?: number;
  /**
   * The URL was named by a registry, not configured by a person: refuse link-local and cloud
   * metadata addresses, in the URL and in what its host name resolves to (./address-policy.ts).
   */
  guardAddresses?: boolean;
}

/** Where ResponseBody.readInto puts a body's bytes. */
export interface BodyTarget {
  /** Free memory for the next socket read to fill from its start; undefined when there is none now. */
  room(): Buffer | undefined;
  /** The last `room()` got `bytes` bytes at its start. A returned promise pauses reading until it settles. */
  filled(bytes: number): void | Promise<void>;
  /** A chunk that landed elsewhere, to copy. A returned promise pauses reading until it settles. */
  take(chunk: Buffer): void | Promise<void>;
}

/** A response body: a byte stream with the few conveniences the registry client needs. */
export class ResponseBody implements AsyncIterable<Buffer> {
  constructor(
    private readonly message: IncomingMessage,
    /** A HEAD, 204 or 304 answer: no body follows, whatever Content-Length says. */
    private readonly bodiless = false,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this.message[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /**
   * Hands every chunk to `onChunk`, pausing the stream while a returned promise is pending.
   * For large bodies this is the path to use: async iteration over an IncomingMessage keeps
   * about 50 MB more socket buffers alive on a fast 8-connection download (measured).
   */
  consume(onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    const message = this.message;
    return new Promise((resolve, reject) => {
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        message.destroy();
        reject(error);
      };
      message.on('data', (chunk: Buffer) => {
        let result: void | Promise<void>;
        try {
          result = onChunk(chunk);
        } catch (error) {
          fail(error);
          return;
        }
        if (result) {
          message.pause();
          result.then(() => message.resume(), fail);
        }
      });
      message.once('end', () => {
        if (!failed) resolve();
      });
      message.once('error', fail);
      message.once('close', () => {
        if (!message.complete && !failed) fail(Object.assign(new Error('connection closed before the body ended'), { code: 'ECONNRESET' }));
      });
    });
  }

  /**
   * Like consume, for a large body whose bytes should land in the caller's memory: on a
   * plain-http socket of this client, with a Content-Length, the socket reads straight into
   * `target.room()` and node:http's parser never sees the body (it would copy every byte into a
   * new buffer, and `take` would copy it again: measured 2 GiB of memmove and garbage for a
   * 1 GiB blob). The connection is closed after such a body, since the parser still waits for
   * it. Anywhere else (https, chunked) every chunk goes to `target.take`. Call it before any
   * other read of the body.
   */
  readInto(target: BodyTarget): Promise<void> {
    const message = this.message;
    const socket = message.socket;
    const slot = socket ? rawReadSlots.get(socket) : undefined;
    const declared = Number(message.headers['content-length']);
    if (!socket || !slot || slot.raw || this.bodiless || message.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(declared) || message.complete || message.destroyed) {
      return this.consume((chunk) => target.take(chunk));
    }
    return new Promise((resolve, reject) => {
      // Body bytes the parser took with the headers come first; the socket waits meanwhile.
      const queue: Buffer[] = [];
      for (let chunk: Buffer | null; (chunk = message.read() as Buffer | null) !== null; ) queue.push(chunk);
      socket.pause();
      let remaining = declared - queue.reduce((sum, chunk) => sum + chunk.length, 0);
      let busy: Promise<void> | undefined;
      let room: Buffer | undefined;
      let settled = false;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        slot.raw = undefined;
        message.off('error', finish);
        message.off('close', closed);
        // The parser still expects the body it never saw: this connection can carry nothing more.
        message.on('error', () => {});
        message.destroy();
        if (error) reject(error);
        else resolve();
      };
      const closed = (): void => finish(Object.assign(new Error('connection closed before the body ended'), { code: 'ECONNRESET' }));
      const wait = (result: void | Promise<void>): void => {
        if (!result) return;
        busy = result;
        socket.pause();
        result.then(() => {
          busy = undefined;
          pump();
        }, finish);
      };
      const pump = (): void => {
        try {
          while (!busy && !settled && queue.length > 0) wait(target.take(queue.shift()!));
        } catch (error) {
          finish(error);
        }
        if (busy || settled) return;
        if (remaining === 0) finish();
        else socket.resume();
      };
      if (remaining < 0) {
        finish(Object.assign(new Error(`response body longer than its Content-Length (${declared})`), { code: 'EBODYTOOLARGE' }));
        return;
      }
      message.once('error', finish);
      message.once('close', closed);
      slot.raw = {
        next: () => {
          // Asked right after a read, even one that made us wait: the next read comes after the wait.
          room = undefined;
          if (settled || queue.length > 0) return undefined;
          const free = target.room();
          if (!free || free.length === 0) return undefined;
          room = free.length > remaining ? free.subarray(0, remaining) : free;
          return room;
        },
        landed: (buffer, bytes) => {
          if (settled) return false;
          if (bytes > remaining) {
            finish(Object.assign(new Error(`response body longer than its Content-Length (${declared})`), { code: 'EBODYTOOLARGE' }));
            return false;
          }
          remaining -= bytes;
          try {
            // In the caller's memory already; else in the socket's own buffer, which the next read reuses.
            if (buffer === room && !busy && queue.length === 0) wait(target.filled(bytes));
            else queue.push(Buffer.from(buffer.subarray(0, bytes)));
          } catch (error) {
            finish(error);
            return false;
          }
          if (!busy && (queue.length > 0 || remaining === 0)) pump();
          return !busy && !settled;
        },
      };
      pump();
    });
  }

  /** The whole body, refused (and the connection closed) past `limit` bytes. */
  async buffer(limit = defaultBodyLimit): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.message) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        this.destroy();
        throw Object.assign(new Error(`response body larger than ${limit} bytes`), { code: 'EBODYTOOLARGE' });
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks, size);
  }

  async text(limit = defaultBodyLimit): Promise<string> {
    return (await this.buffer(limit)).toString('utf8');
  }

  async json(limit = defaultBodyLimit): Promise<unknown> {
    return JSON.parse(await this.text(limit));
  }

  /**
   * At most the first `max` bytes, for an error message: a longer body is cut off and its
   * connection closed rather than read on (a hostile registry may send gigabytes). Never throws.
   */
  prefix(max: number): Promise<Buffer> {
    const message = this.message;
    if (message.readableEnded || message.destroyed) return Promise.resolve(Buffer.alloc(0));
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        message.off('data', onData);
        resolve(Buffer.concat(chunks, size));
      };
      const onData = (chunk: Buffer) => {
        const room = max - size;
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          if (chunk.length > room || !message.complete) message.destroy();
          finish();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      };
      message.on('data', onData);
      message.once('end', finish);
      message.once('close', finish);
      message.once('error', finish);
    });
  }

  /**
   * Throws the rest away. A short rest is read, so the connection can be reused; past `limit`
   * bytes the connection is closed instead, so a huge body is never pulled over the network.
   */
  async dump(limit = discardLimit): Promise<void> {
    if (this.message.readableEnded || this.message.destroyed) return;
    const declared = this.bodiless ? 0 : Number(this.message.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      this.destroy();
      return;
    }
    await this.prefix(limit);
  }

  destroy(): void {
    this.message.destroy();
  }
}

export interface HttpResponseData {
  statusCode: number;
  headers: Headers;
  body: ResponseBody;
}

function stalledError(ms: number): Error {
  return Object.assign(new Error(`no data for ${Math.round(ms / 1000)} s`), { code: 'ESTALLED' });
}

/**
 * Bytes one socket read takes. node:http reads a socket 64 KiB at a time, into a new buffer
 * each time, and its parser then copies the body bytes out again: a 1 GiB blob was 16,000
 * reads, each through two streams, and 2 GiB of garbage for the main thread (measured: about
 * 0.6 s of CPU on a 2-core machine, and major GCs). Plain-http sockets read into one reused
 * buffer instead (net's `onread`), a quarter of the reads for the same bytes.
 */
const socketReadBytes = 256 * 1024;

/**
 * A body read that bypasses node:http's parser (ResponseBody.readInto): the socket's reads go
 * to it instead of to the parser, into memory it hands out.
 */
interface RawRead {
  /** Memory for the next read, or undefined for the socket's own buffer. */
  next(): Buffer | undefined;
  /** A read of `bytes` landed at the start of `buffer`; false stops reading. */
  landed(buffer: Buffer, bytes: number): boolean;
}

/** The plain-http sockets this client made, each with the raw read it is switched to, if any. */
const rawReadSlots = new WeakMap<Socket, { raw: RawRead | undefined }>();

/** An http agent whose sockets read into one reused buffer each (see socketReadBytes). */
class ReusedBufferAgent extends HttpAgent {
  override createConnection(options: NetConnectOpts): Socket {
    const own = Buffer.allocUnsafe(socketReadBytes);
    const slot: { raw: RawRead | undefined } = { raw: undefined };
    const socket: Socket = createConnection({
      ...options,
      onread: {
        // Asked after every read for where the next one lands.
        buffer: () => slot.raw?.next() ?? own,
        // An onread socket emits no 'data', and node:http reads its socket through 'data': the
        // read is handed on as that event. The parser copies every byte it keeps (body chunks,
        // headers) before the event returns, so the buffer is free for the next read.
        callback: (bytes: number, buffer: Uint8Array) => (slot.raw ? slot.raw.landed(buffer as Buffer, bytes) : socket.emit('data', own.subarray(0, bytes)) || true),
      },
    });
    rawReadSlots.set(socket, slot);
    return socket;
  }
}

export class HttpClient {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly connectTimeoutMs: number;

  constructor(options: HttpClientOptions = {}) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSocketsPerOrigin ?? 16, maxFreeSockets: options.maxSocketsPerOrigin ?? 16, scheduling: 'lifo' as const };
    this.http = new ReusedBufferAgent(agentOptions);
    this.https = new HttpsAgent(options.ca === undefined ? agentOptions : { ...agentOptions, ca: options.ca });
    this.connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  }

  request(url: string | URL, options: SendOptions): Promise<HttpResponseData> {
    const target = typeof url === 'string' ? new URL(url) : url;
    const secure = target.protocol === 'https:';
    if (!secure && target.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL scheme ${target.protocol}`));
    if (options.guardAddresses) {
      const reason = forbiddenHostReason(target);
      if (reason) return Promise.reject(forbiddenAddressError(target.host, reason));
    }
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && typeof options.body !== 'object') headers['content-length'] ??= String(Buffer.byteLength(options.body));
    else if (Buffer.isBuffer(options.body)) headers['content-length'] ??= String(options.body.length);
    return new Promise((resolve, reject) => {
      const send = secure ? httpsRequest : httpRequest;
      const req = send(target, {
        method: options.method,
        headers,
        agent: secure ? this.https : this.http,
        signal: options.signal,
        ...(options.guardAddresses ? { lookup: guardedLookup() } : {}),
      });
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      // Until connected, the connect timeout applies; after, the idle (stall) timeout.
      const connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })), this.connectTimeoutMs);
      req.on('socket', (socket) => {
        const connected = () => clearTimeout(connectTimer);
        if (socket.connecting) socket.once(secure ? 'secureConnect' : 'connect', connected);
        else connected();
      });
      if (options.idleTimeoutMs) {
        const idle = options.idleTimeoutMs;
        req.setTimeout(idle, () => req.destroy(stalledError(idle)));
      }
      req.on('error', (error) => {
        clearTimeout(connectTimer);
        fail(error);
      });
      req.on('response', (response) => {
        clearTimeout(connectTimer);
        settled = true;
        if (options.idleTimeoutMs) {
          const idle = options.idleTimeoutMs;
          response.setTimeout(idle, () => response.destroy(stalledError(idle)));
        }
        const status = response.statusCode ?? 0;
        const bodiless = options.method === 'HEAD' || status === 204 || status === 304;
        resolve({ statusCode: status, headers: response.headers, body: new ResponseBody(response, bodiless) });
      });
      const body = options.body;
      if (body === undefined) req.end();
      else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
      else pipeline(body, req).catch((error: Error) => req.destroy(error));
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
