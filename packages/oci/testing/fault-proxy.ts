// A fault-injecting HTTP proxy for tests and benchmarks, placed between a client and a real
// registry. Per request it can: answer 429/503, flip a byte of a blob, drop the connection
// mid-body, ignore Range, or cap each connection's speed (what field CDNs do per stream).
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { kind: 'flip-byte'; at: number }
  | { kind: 'drop'; afterBytes: number }
  /** Stops sending after this many body bytes but keeps the connection open. */
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'ignore-range' }
  | { kind: 'throttle'; bytesPerSecond: number }
  /**
   * Holds the request this long before passing it on (a request that reaches the registry late).
   * If the client goes away meanwhile, the request is never passed on, as a proxy that aborts
   * upstream on a client abort would do.
   */
  | { kind: 'delay'; ms: number };

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Requests seen so far, this one included. */
  count: number;
  /** When it arrived (Date.now()). */
  at: number;
  /** The status answered, once known. */
  status?: number;
  /** Body bytes passed on to the client so far. */
  bytesServed: number;
  /** When the proxy last passed body bytes on (Date.now()). */
  lastByteAt?: number;
  /** When the exchange with the client ended, by a complete answer or a closed connection (Date.now()). */
  closedAt?: number;
  /**
   * When the proxy was done with it on the registry's side too (Date.now()): answered, failed,
   * aborted, or dropped before it was passed on. Until then the registry may still act on it.
   */
  settledAt?: number;
}

/** The proxy is done with the request on the registry's side (first call wins). */
function settle(seen: ProxiedRequest): void {
  seen.settledAt ??= Date.now();
}

export type FaultRule = (request: ProxiedRequest) => Fault | Fault[] | undefined;

export interface FaultProxy {
  url: string;
  host: string;
  /** Replace the rule deciding faults per request. */
  setRule(rule: FaultRule | undefined): void;
  /** Every request seen, in order. */
  readonly requests: ProxiedRequest[];
  /** Body bytes sent to clients for blob GETs. */
  readonly blobBytesServed: number;
  close(): Promise<void>;
}

/** Flips one byte at an absolute body offset, shifted by where this response starts. */
class FlipByte extends Transform {
  private position: number;
  constructor(
    private readonly at: number,
    start: number,
  ) {
    super();
    this.position = start;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const index = this.at - this.position;
    if (index >= 0 && index < chunk.length) {
      const copy = Buffer.from(chunk);
      copy[index] = copy[index]! ^ 0xff;
      chunk = copy;
    }
    this.position += chunk.length;
    callback(null, chunk);
  }
}

/** Paces bytes to a rate: pass chunks on no faster than `bytesPerSecond` on average. */
class Throttle extends Transform {
  private readonly started = Date.now();
  private sent = 0;
  constructor(private readonly bytesPerSecond: number) {
    super({ highWaterMark: 64 * 1024 });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sent += chunk.length;
    const due = this.started + (this.sent / this.bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait > 0) setTimeout(() => callback(null, chunk), wait);
    else callback(null, chunk);
  }
}

function rangeStart(range: string | undefined): number {
  const match = /^bytes=(\d+)-/.exec(range ?? '');
  return match ? Number(match[1]) : 0;
}

/** Starts the proxy on a free loopback port in front of `upstream` (e.g. http://127.0.0.1:5000). */
export async function startFaultProxy(upstream: string, rule?: FaultRule): Promise<FaultProxy> {
  const target = new URL(upstream);
  let currentRule = rule;
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let blobBytesServed = 0;
  let proxyOrigin = '';

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const seen: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, count: requests.length + 1, at: Date.now(), bytesServed: 0 };
    requests.push(seen);
    res.on('close', () => (seen.closedAt = Date.now()));
    const decided = currentRule?.(seen);
    const faults = decided === undefined ? [] : Array.isArray(decided) ? decided : [decided];

    const status = faults.find((f) => f.kind === 'status');
    if (status?.kind === 'status') {
      req.resume();
      seen.status = status.status;
      res.writeHead(status.status, { 'content-type': 'application/json', ...status.headers });
      res.end(status.body ?? JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'injected by fault proxy' }] }));
      settle(seen);
      return;
    }

    const headers = { ...req.headers, host: target.host };
    if (faults.some((f) => f.kind === 'ignore-range')) delete headers.range;
    const delay = faults.find((f) => f.kind === 'delay');
    if (delay?.kind === 'delay') {
      req.pause();
      setTimeout(() => {
        if (seen.closedAt === undefined) return forward(req, res, seen, headers, faults);
        req.destroy();
        settle(seen);
      }, delay.ms);
      return;
    }
    forward(req, res, seen, headers, faults);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, seen: ProxiedRequest, headers: IncomingMessage['headers'], faults: Fault[]) => {
    const upstreamRequest = httpRequest(
      { protocol: target.protocol, hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      (upstreamResponse) => {
        seen.status = upstreamResponse.statusCode;
        const responseHeaders = { ...upstreamResponse.headers };
        if (typeof responseHeaders.location === 'string') {
          responseHeaders.location = responseHeaders.location.replace(target.origin, proxyOrigin);
        }
        let body: NodeJS.ReadableStream = upstreamResponse;
        const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
        const start = upstreamResponse.statusCode === 206 ? rangeStart(req.headers.range) : 0;
        for (const fault of faults) {
          if (fault.kind === 'flip-byte') body = body.pipe(new FlipByte(fault.at, start));
          if (fault.kind === 'throttle') body = body.pipe(new Throttle(fault.bytesPerSecond));
        }
        const drop = faults.find((f) => f.kind === 'drop');
        const stall = faults.find((f) => f.kind === 'stall');
        let stalled = false;
        res.writeHead(upstreamResponse.statusCode ?? 502, responseHeaders);
        let served = 0;
        const count = (bytes: number) => {
          served += bytes;
          if (isBlobGet) blobBytesServed += bytes;
          seen.bytesServed += bytes;
          if (bytes > 0) seen.lastByteAt = Date.now();
        };
        body.on('data', (chunk: Buffer) => {
          // A throttled chunk can come due after the client went away: nobody receives it.
          if (stalled || res.destroyed) return;
          if (stall?.kind === 'stall' && served + chunk.length > stall.afterBytes) {
            const keep = Math.max(0, stall.afterBytes - served);
            if (keep > 0) res.write(chunk.subarray(0, keep));
            count(keep);
            stalled = true;
            upstreamResponse.destroy();
            return;
          }
          if (drop?.kind === 'drop' && served + chunk.length > drop.afterBytes) {
            const keep = Math.max(0, drop.afterBytes - served);
            if (keep > 0) res.write(chunk.subarray(0, keep));
            count(keep);
            upstreamResponse.destroy();
            res.socket?.destroy();
            return;
          }
          count(chunk.length);
          if (!res.write(chunk)) {
            body.pause();
            res.once('drain', () => body.resume());
          }
        });
        body.on('end', () => {
          if (!stalled) res.end();
        });
        body.on('error', () => {
          if (!stalled) res.destroy();
        });
        res.on('close', () => upstreamResponse.destroy());
        // The registry died mid-body (not a stall we injected): cut the client off as the dead
        // registry would have, rather than leave it waiting on a transform that never ends.
        upstreamResponse.on('close', () => {
          if (!upstreamResponse.complete && !stalled) res.destroy();
        });
      },
    );
    upstreamRequest.on('error', () => res.destroy());
    upstreamRequest.on('close', () => settle(seen));
    // The client went away before its answer was complete: abort upstream too, so a request cut
    // off mid-body never lingers at the registry.
    res.on('close', () => {
      if (!res.writableFinished) upstreamRequest.destroy();
    });
    req.pipe(upstreamRequest);
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  proxyOrigin = `http://127.0.0.1:${port}`;
  return {
    url: proxyOrigin,
    host: `127.0.0.1:${port}`,
    setRule(next) {
      currentRule = next;
    },
    requests,
    get blobBytesServed() {
      return blobBytesServed;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
