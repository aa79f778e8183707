// A web server on 127.0.0.1 serving files the way a CDN does (Range, If-Range, ETag,
// Last-Modified, redirects), with faults a download meets in the field: a connection dropped
// at a byte offset, a connection that stalls there, a server that ignores Range, a file replaced
// while it is read. It counts the body bytes it sends, so a test can tell a ranged resume (the
// file once, plus what was lost in flight) from a restart (the file again from its start).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RangeFault {
  /** Absolute file offset at which the fault strikes a response that crosses it (once). */
  at: number;
  kind: 'drop' | 'stall';
  /** The file changes (a new ETag) when the fault strikes. */
  thenEtag?: string;
}

export interface ServedRequest {
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
  bytesSent: number;
}

export interface RangeServerOptions {
  /** Files by URL path (e.g. `/files/a.ipsw`): a path on disk, or bytes. */
  files: Record<string, string | Buffer>;
  /** Answer every request with the whole file (200), as servers without range support do. */
  ignoreRange?: boolean;
  /** Send no ETag (only Last-Modified). */
  noEtag?: boolean;
  faults?: RangeFault[];
}

export interface RangeServer {
  readonly origin: string;
  url(path: string): string;
  /** `/hop/<n>/<path>` redirects n times before reaching the file. */
  redirecting(path: string, hops: number): string;
  /** Body bytes sent for file responses, in all. */
  readonly bytesSent: number;
  readonly requests: ServedRequest[];
  setEtag(etag: string): void;
  addFaults(faults: RangeFault[]): void;
  close(): Promise<void>;
}

const lastModified = 'Tue, 10 Dec 2024 00:00:00 GMT';

function parseRange(value: string | undefined, size: number): [number, number] | undefined {
  const match = value ? /^bytes=(\d+)-(\d*)$/.exec(value) : null;
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  return start <= end ? [start, end] : undefined;
}

export async function startRangeServer(options: RangeServerOptions): Promise<RangeServer> {
  let etag = '"v1"';
  let bytesSent = 0;
  const faults = [...(options.faults ?? [])];
  const requests: ServedRequest[] = [];
  const sockets = new Set<Socket>();

  async function serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const file = options.files[path];
    const record: ServedRequest = { path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 0, bytesSent: 0 };
    requests.push(record);
    if (file === undefined) {
      record.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const size = typeof file === 'string' ? (await stat(file)).size : file.length;
    const validators: Record<string, string> = { 'last-modified': lastModified, ...(options.noEtag ? {} : { etag }), 'accept-ranges': options.ignoreRange ? 'none' : 'bytes' };
    const ifRange = record.ifRange;
    const current = ifRange === undefined || ifRange === etag || (options.noEtag && ifRange === lastModified);
    const range = !options.ignoreRange && current ? parseRange(req.headers.range, size) : undefined;
    const [start, end] = range ?? [0, size - 1];
    record.status = range ? 206 : 200;
    res.writeHead(record.status, {
      ...validators,
      'content-type': 'application/octet-stream',
      'content-length': String(end - start + 1),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    const body = typeof file === 'string' ? createReadStream(file, { start, end, highWaterMark: 256 * 1024 }) : [file.subarray(start, end + 1)];
    let position = start;
    try {
      for await (const data of body) {
        let chunk = data as Buffer;
        while (chunk.length > 0) {
          const fault = faults.find((f) => f.at >= position && f.at < position + chunk.length && f.at >= start);
          const piece = fault ? chunk.subarray(0, fault.at - position) : chunk;
          if (piece.length > 0 && !res.write(piece)) {
            await new Promise<void>((resolve) => {
              const done = () => {
                res.off('drain', done);
                res.off('close', done);
                resolve();
              };
              res.once('drain', done);
              res.once('close', done);
            });
          }
          bytesSent += piece.length;
          record.bytesSent += piece.length;
          position += piece.length;
          chunk = chunk.subarray(piece.length);
          if (res.destroyed) return;
          if (fault) {
            faults.splice(faults.indexOf(fault), 1);
            if (fault.thenEtag) etag = fault.thenEtag;
            if (fault.kind === 'drop') {
              res.socket?.destroy();
              return;
            }
            // A stall: the connection stays open and silent until the client gives up on it.
            await new Promise<void>((resolve) => res.once('close', resolve));
            return;
          }
        }
      }
      res.end();
    } finally {
      if (!Array.isArray(body)) body.destroy();
    }
  }

  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const hop = /^\/hop\/(\d+)(\/.*)$/.exec(path);
    if (hop) {
      const left = Number(hop[1]) - 1;
      res.writeHead(302, { location: left > 0 ? `/hop/${left}${hop[2]}` : hop[2] }).end();
      return;
    }
    serve(req, res, path).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    redirecting: (path, hops) => `${origin}/hop/${hops}${path}`,
    get bytesSent() {
      return bytesSent;
    },
    requests,
    setEtag(next) {
      etag = next;
    },
    addFaults(more) {
      faults.push(...more);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
