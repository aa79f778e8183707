// The agent's peer server: other agents of the fleet read blobs from this Mac's host cache instead
// of the registry (issue 10, "Agents serve their verified content to peers"). It speaks the read
// side of the OCI distribution API, `GET`/`HEAD /v2/<name>/blobs/<digest>` with byte ranges, so our
// registry client and plain curl can use it. It serves complete blobs from <cache>/blobs (a blob
// appears there only once the cache has verified it) and, of blobs still downloading, ranges that
// lie in pieces whose digests matched (the cache's piece board): nothing unverified leaves this
// host. `GET /cider/v1/pieces/<digest>` says which pieces it has, for the readers' scheduling.
//
// Every request needs a peer ticket the control plane signed for this node and that digest (or
// the image it belongs to)
// (checked offline with control's public key). The server is built to face a hostile LAN: headers
// and URLs are bounded, slow or silent callers time out, uploads are bounded in number and share
// one bandwidth cap, and every failure is answered (or the socket dropped) without reaching the
// agent's own process.
import { constants, createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { checkPeerTicket } from '@cider/protocol';
import type { HostCache } from '@cider/oci';

/** The few log calls the server makes; a pino Logger fits. */
export interface PeerLog {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PeerServerOptions {
  cache: HostCache;
  /** This agent's node id: tickets must name it as their server. */
  nodeId: string;
  /** The control plane's ticket key (raw Ed25519, base64url), from the welcome. */
  publicKey: string;
  host: string;
  /** 0 picks a free port; the chosen one is in the result. */
  port: number;
  /** Uploads (GET bodies) at once; more are answered 503 with Retry-After. At least 1. */
  maxConcurrentUploads: number;
  /** Shared by all uploads together; 0 = unlimited. */
  maxUploadBytesPerSecond: number;
  log: PeerLog;
  /** Timeouts, for tests; the defaults suit a LAN. */
  timeouts?: Partial<PeerTimeouts>;
  /**
   * The blobs of an image this host holds or is pulling (config and layers), by the image's
   * manifest or index digest: a ticket for the image admits each of them. Undefined when unknown.
   */
  imageBlobs?: (image: string) => Promise<ReadonlySet<string> | undefined>;
  /**
   * A fault drill (the fleet benchmark's --tamper-peer): flips a byte in every chunk served, so
   * readers must catch it by the piece digests. Never set in production.
   */
  tamper?: boolean;
}

export interface PeerTimeouts {
  /** Until a request's headers are complete. */
  headersMs: number;
  /** Until a whole request (headers and any body) is in. */
  requestMs: number;
  /** A socket with no traffic either way for this long is dropped (a reader that stopped reading). */
  idleMs: number;
}

const defaultTimeouts: PeerTimeouts = { headersMs: 10_000, requestMs: 15_000, idleMs: 60_000 };

export interface PeerServerStats {
  /** Body bytes written to peers since start (partial uploads count what was sent). */
  bytesUploaded: number;
  /** The same, by digest. */
  bytesByDigest: Record<string, number>;
  uploadsInFlight: number;
  /** Requests answered 401, and 503 for want of an upload slot. */
  refusedTickets: number;
  refusedBusy: number;
}

export interface PeerServer {
  port: number;
  close(): Promise<void>;
  stats(): PeerServerStats;
}

/** Node's limit for a request line plus headers; anything bigger is answered 431 by node itself. */
export const peerMaxHeaderBytes = 8 * 1024;
/** Longer URLs are answered 414 before any parsing. Our paths are ~100 characters. */
const maxUrlLength = 1024;
/** An OCI repository name is at most 255 characters; the name is not used, only bounded. */
const namePattern = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const maxNameLength = 255;
const digestPattern = /^sha256:[0-9a-f]{64}$/;
const nodeIdMaxLength = 64;
/** How far ahead of its rate the shared bucket lets uploads run: a short burst, not a second's worth. */
const burstSeconds = 0.05;

/**
 * A token bucket shared by every upload: each chunk reserves its bytes and waits until the bucket
 * has paid for them. Reservations queue in order, so uploads share the cap roughly evenly by chunk.
 */
class Pacer {
  /** The moment (ms, monotonic) when everything reserved so far has been paid for. */
  private paidUntil = 0;

  constructor(private readonly bytesPerSecond: number) {}

  /** Milliseconds to wait before sending `bytes`. */
  reserve(bytes: number): number {
    if (this.bytesPerSecond <= 0) return 0;
    const now = performance.now();
    // Idle time builds credit, but never more than the burst allowance.
    this.paidUntil = Math.max(this.paidUntil, now - burstSeconds * 1000) + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, this.paidUntil - now);
  }
}

type Range = { start: number; end: number };

/**
 * A Range header against a blob of `size` bytes: undefined when there is none (the whole blob),
 * 'unsatisfiable' for anything we do not serve. Only one range of the `bytes` unit is honoured;
 * a multi-range request is answered 416 rather than with the whole blob, since a peer asking for
 * parts wants only those and a whole multi-gigabyte blob would waste the upload budget.
 */
export function parseRange(header: string | undefined, size: number): Range | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return 'unsatisfiable';
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return 'unsatisfiable';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  if (last === '') return { start, end: size - 1 };
  const end = Number(last);
  if (end < start) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** Routes `/v2/<name>/blobs/<digest>` and `/cider/v1/pieces/<digest>`; a digest of the wrong shape is still routed, for a 400. */
function route(url: string): { digest: string; pieces?: true } | undefined {
  const path = url.split('?', 1)[0]!;
  const pieces = /^\/cider\/v1\/pieces\/([^/]+)$/.exec(path);
  if (pieces) return { digest: pieces[1]!, pieces: true };
  const match = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
  if (!match) return undefined;
  const [, name, digest] = match as unknown as [string, string, string];
  if (name.length > maxNameLength || !namePattern.test(name)) return undefined;
  return { digest };
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Opens a held blob without following links: a symlink in blobs/ is not a verified blob. */
async function openBlob(cache: HostCache, digest: string): Promise<{ handle: FileHandle; size: number } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(cache.blobPath(digest), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      return undefined;
    }
    return { handle, size: info.size };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

/** The ingest file of a download in progress, when it has verified pieces and a range was asked for. */
async function openPartial(cache: HostCache, digest: string, range: string | undefined): Promise<{ handle: FileHandle; size: number } | undefined> {
  const partial = cache.pieces.get(digest);
  if (!partial || range === undefined) return undefined;
  let handle: FileHandle;
  try {
    handle = await open(partial.dataPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Committed (renamed into blobs/) or discarded meanwhile.
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return undefined;
    throw error;
  }
  return { handle, size: partial.size };
}

/** The --tamper-peer drill: every chunk leaves with its first byte flipped. */
function tamperer(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const copy = Buffer.from(chunk);
      if (copy.length > 0) copy[0] = copy[0]! ^ 0xff;
      done(null, copy);
    },
  });
}

export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const { cache, nodeId, publicKey, log } = options;
  if (!Number.isInteger(options.maxConcurrentUploads) || options.maxConcurrentUploads < 1) throw new Error('maxConcurrentUploads must be a positive integer');
  if (!(options.maxUploadBytesPerSecond >= 0)) throw new Error('maxUploadBytesPerSecond must be 0 (unlimited) or more');
  const timeouts = { ...defaultTimeouts, ...options.timeouts };
  const pacer = new Pacer(options.maxUploadBytesPerSecond);
  const counters = { bytesUploaded: 0, uploadsInFlight: 0, refusedTickets: 0, refusedBusy: 0 };
  const bytesByDigest = new Map<string, number>();

  const count = (digest: string, bytes: number) => {
    counters.bytesUploaded += bytes;
    bytesByDigest.set(digest, (bytesByDigest.get(digest) ?? 0) + bytes);
  };

  /** Paces each chunk through the shared bucket and counts it as it goes out. */
  const pacedCounter = (digest: string) =>
    new Transform({
      transform(chunk: Buffer, _encoding, done: TransformCallback) {
        const wait = pacer.reserve(chunk.length);
        const send = () => {
          count(digest, chunk.length);
          done(null, chunk);
        };
        if (wait > 0) setTimeout(send, wait);
        else send();
      },
    });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    const url = req.url ?? '';
    if (url.length > maxUrlLength) return sendError(res, 414, 'URI_TOO_LONG', 'request URL too long');
    if (url === '/v2/' || url === '/v2') {
      // The registry API's version check, so clients that ping first find a registry here.
      if (method !== 'GET' && method !== 'HEAD') return sendError(res, 405, 'UNSUPPORTED', 'method not allowed', { Allow: 'GET, HEAD' });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2, 'Docker-Distribution-API-Version': 'registry/2.0' });
      res.end(method === 'HEAD' ? undefined : '{}');
      return;
    }
    const target = route(url);
    if (!target) return sendError(res, 404, 'NOT_FOUND', 'not found');
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, 405, 'UNSUPPORTED', 'method not allowed', { Allow: 'GET, HEAD' });
    const { digest } = target;
    if (!digestPattern.test(digest)) return sendError(res, 400, 'DIGEST_INVALID', 'not a sha256 digest');

    // The ticket comes before anything about the cache, so an unticketed caller learns nothing
    // about what this host holds.
    const readerHeader = req.headers['x-cider-node'];
    const reader = typeof readerHeader === 'string' ? readerHeader.slice(0, nodeIdMaxLength + 1) : undefined;
    const check = checkPeerTicket(bearer(req.headers.authorization), { publicKey, server: nodeId, digest: () => true, reader });
    // A ticket names the blob itself, or an image this host knows the blob to be part of.
    const admitted = check.ok && (check.claims.digest === digest || ((await options.imageBlobs?.(check.claims.digest))?.has(digest) ?? false));
    if (!check.ok || !admitted) {
      counters.refusedTickets++;
      log.debug({ digest, reason: check.ok ? 'other-digest' : check.reason, remote: req.socket.remoteAddress }, 'peer request refused');
      return sendError(res, 401, 'UNAUTHORIZED', 'a valid peer ticket is required', { 'WWW-Authenticate': 'Bearer realm="cider-peer"' });
    }

    if (target.pieces) return answerPieces(res, digest, method);

    const isGet = method === 'GET';
    // Only bodies take an upload slot; a HEAD costs a stat.
    if (isGet && counters.uploadsInFlight >= options.maxConcurrentUploads) {
      counters.refusedBusy++;
      return sendError(res, 503, 'TOOMANYREQUESTS', 'too many uploads at once', { 'Retry-After': '1' });
    }
    if (isGet) counters.uploadsInFlight++;
    let released = !isGet;
    const release = () => {
      if (released) return;
      released = true;
      counters.uploadsInFlight--;
    };
    res.once('close', release);

    let blob: { handle: FileHandle; size: number } | undefined;
    try {
      blob = await openBlob(cache, digest);
    } catch (error) {
      release();
      throw error;
    }
    let partial = false;
    if (!blob) {
      // Not complete here: verified pieces of a download in progress, for a range within them.
      try {
        blob = await openPartial(cache, digest, typeof req.headers.range === 'string' ? req.headers.range : undefined);
      } catch (error) {
        release();
        throw error;
      }
      partial = true;
    }
    if (!blob) {
      release();
      return sendError(res, 404, 'BLOB_UNKNOWN', 'blob not held here');
    }
    const { handle: file, size } = blob;
    const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
    if (partial && (range === undefined || range === 'unsatisfiable' || !cache.pieces.covers(digest, range.start, range.end))) {
      release();
      await file.close().catch(() => {});
      return sendError(res, 404, 'BLOB_UNKNOWN', 'those bytes are not verified here yet');
    }
    if (range === 'unsatisfiable') {
      release();
      await file.close().catch(() => {});
      return sendError(res, 416, 'RANGE_INVALID', 'range not satisfiable', { 'Content-Range': `bytes */${size}` });
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const length = end - start + 1;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': length,
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
    };
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (!isGet || length === 0) {
      await file.close().catch(() => {});
      res.end();
      return;
    }
    // The caller learns at once that it has a slot, even when the cap holds the first bytes back.
    res.flushHeaders();
    // The stream owns the handle from here (autoClose) and reads 64 KiB at a time, so memory stays
    // flat whatever the blob's size; a blob evicted meanwhile stays readable through the open fd.
    const body = createReadStream('', { fd: file, start, end, autoClose: true });
    const done = (error: NodeJS.ErrnoException | null) => {
      release();
      if (error && (error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
        log.debug({ digest, err: error.message }, 'peer upload ended early');
      }
    };
    if (options.tamper) pipeline(body, tamperer(), pacedCounter(digest), res, done);
    else pipeline(body, pacedCounter(digest), res, done);
  }

  /** What this host holds of a blob: all of it, or the verified pieces of a download in progress. */
  async function answerPieces(res: ServerResponse, digest: string, method: string): Promise<void> {
    let body: object | undefined;
    if (await cache.hasBlob(digest)) body = { complete: true };
    else {
      const partial = cache.pieces.get(digest);
      if (partial) {
        body = {
          complete: false,
          size: partial.size,
          pieceSize: partial.pieceSize,
          count: partial.count,
          bits: Buffer.from(partial.verified).toString('base64'),
          fetching: Buffer.from(partial.fetching).toString('base64'),
        };
      }
    }
    if (!body) return sendError(res, 404, 'BLOB_UNKNOWN', 'blob not held here');
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(method === 'HEAD' ? undefined : text);
  }

  // Node looks for requests past their timeouts only this often (every 30 s by default, which
  // would let a silent caller hold its socket three times longer than the headers timeout).
  const checkEvery = Math.max(50, Math.min(5000, Math.floor(timeouts.headersMs / 2)));
  const server: Server = createServer({ maxHeaderSize: peerMaxHeaderBytes, headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: checkEvery }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.warn({ err: error instanceof Error ? error.message : String(error), url: (req.url ?? '').slice(0, 200) }, 'peer request failed');
      if (!res.headersSent) sendError(res, 500, 'UNKNOWN', 'internal error');
      else res.destroy();
    });
  });
  server.setTimeout(timeouts.idleMs, (socket: Socket) => socket.destroy());
  // Our own answer to malformed or oversized requests: node's default does the same, but a
  // listener also keeps a socket error from ever surfacing as an unhandled one.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    // end() sends the answer and then closes; a socket that cannot take it is dropped.
    // (A response still going out on that socket would be corrupted by ours, so then it is dropped too.)
    const answering = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    if (socket.writable && !answering) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log.warn({ err: error.message }, 'peer server error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    stats: () => ({ ...counters, bytesByDigest: Object.fromEntries(bytesByDigest) }),
  };
}
