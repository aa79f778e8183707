// The fleet benchmark's registry uplink: an HTTP proxy in front of a registry that caps the TOTAL
// throughput of every response body at one rate, shared by all connections (one token bucket, as
// a site's WAN uplink is shared by every Mac behind it), and counts what it served: blob GET body
// bytes (the registry egress a rollout is judged by) and all body bytes. Everything else is
// forwarded as is. Bounded: a connection cap, header/request timeouts, and an idle timeout on
// both sides, so a stuck client or registry cannot pin the proxy.
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface WanProxyOptions {
  /** The registry, e.g. http://127.0.0.1:5000. */
  upstream: string;
  /** Bytes per second all response bodies share. */
  bytesPerSecond: number;
  /** Connections accepted at once (default 256). */
  maxConnections?: number;
  /** No byte either way for this long ends the exchange (default 60 s). */
  idleTimeoutMs?: number;
}

export interface WanCounters {
  /** Body bytes of blob GET responses (sha256 blobs), ranged or not. */
  blobBytes: number;
  /** Body bytes of every response. */
  totalBytes: number;
  requests: number;
  blobRequests: number;
}

export interface WanProxy {
  url: string;
  host: string;
  readonly counters: WanCounters;
  reset(): void;
  close(): Promise<void>;
}

/**
 * One bucket for every connection, kept as virtual time: each grant departs at
 * max(now - burst, last departure) + bytes / rate, and waits until then. Grants are served in the
 * order they ask (FIFO, so no connection starves), the long-run rate is exact, and at most
 * `burstMs` of unused capacity is banked.
 */
export class SharedBucket {
  private departure = 0;
  constructor(
    private readonly bytesPerSecond: number,
    private readonly burstMs = 50,
  ) {}

  /** How long to wait before sending `bytes`; reserves them. */
  reserve(bytes: number): number {
    const now = performance.now();
    this.departure = Math.max(now - this.burstMs, this.departure) + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, this.departure - now);
  }
}

/** Paces a body through the shared bucket, in slices small enough that connections interleave. */
class Paced extends Transform {
  constructor(
    private readonly bucket: SharedBucket,
    private readonly onBytes: (n: number) => void,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const slice = 64 * 1024;
    let offset = 0;
    const next = () => {
      if (offset >= chunk.length) return callback();
      const part = chunk.subarray(offset, offset + slice);
      offset += part.length;
      const wait = this.bucket.reserve(part.length);
      const send = () => {
        if (this.destroyed) return;
        this.onBytes(part.length);
        this.push(part);
        next();
      };
      if (wait >= 1) setTimeout(send, wait);
      else send();
    };
    next();
  }
}

export async function startWanProxy(options: WanProxyOptions): Promise<WanProxy> {
  const target = new URL(options.upstream);
  const idleMs = options.idleTimeoutMs ?? 60_000;
  const bucket = new SharedBucket(options.bytesPerSecond);
  const counters: WanCounters = { blobBytes: 0, totalBytes: 0, requests: 0, blobRequests: 0 };
  const reset = () => Object.assign(counters, { blobBytes: 0, totalBytes: 0, requests: 0, blobRequests: 0 });
  const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 256, timeout: idleMs });
  const sockets = new Set<Socket>();
  let origin = '';

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    counters.requests++;
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:[0-9a-f]{64}(\?|$)/.test(req.url ?? '');
    if (isBlobGet) counters.blobRequests++;
    const upstream = httpRequest(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent: upstreamAgent, timeout: idleMs },
      (response) => {
        const headers = { ...response.headers };
        // The registry's upload locations name itself: point them back at the proxy.
        if (typeof headers.location === 'string') headers.location = headers.location.replace(target.origin, origin);
        res.writeHead(response.statusCode ?? 502, headers);
        const paced = new Paced(bucket, (n) => {
          counters.totalBytes += n;
          if (isBlobGet) counters.blobBytes += n;
        });
        // A client that hangs up, or a registry that dies mid-body, ends both sides.
        pipeline(response, paced, res).catch(() => {
          response.destroy();
          res.destroy();
        });
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('registry idle')));
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('registry unreachable\n');
      } else res.destroy();
    });
    req.pipe(upstream);
  };

  const server = createServer({ headersTimeout: 10_000, requestTimeout: 0, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 }, handle);
  server.maxConnections = options.maxConnections ?? 256;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.setTimeout(idleMs, () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    counters,
    reset,
    async close() {
      for (const socket of sockets) socket.destroy();
      upstreamAgent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
