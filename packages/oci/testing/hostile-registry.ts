// A registry that misbehaves on purpose, for tests of what the client trusts: each test sets
// `handle` to answer as a hostile or broken registry would (redirects to http, link-local realms,
// endless Link chains, gigabyte error bodies). It records every request, whether it carried
// credentials, and how many body bytes it managed to send before the client hung up.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TestCertificate } from './tls.ts';

export interface HostileRequest {
  method: string;
  path: string;
  authorization?: string;
}

export type HostileHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HostileRegistry {
  /** `127.0.0.1:<port>` (or `<hostname>:<port>`), as a client names the registry. */
  host: string;
  /** `http(s)://<host>` */
  url: string;
  port: number;
  /** Every request, in order. */
  readonly requests: HostileRequest[];
  /** Requests that carried an Authorization header. */
  readonly withAuthorization: number;
  /** How requests are answered; 404 until a test sets it. */
  handle: HostileHandler;
  close(): Promise<void>;
}

export async function startHostileRegistry(options: { tls?: TestCertificate; hostname?: string } = {}): Promise<HostileRegistry> {
  const requests: HostileRequest[] = [];
  const sockets = new Set<Socket>();
  const state = {
    handle: ((_req, res) => {
      res.writeHead(404).end();
    }) as HostileHandler,
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const seen: HostileRequest = { method: req.method ?? 'GET', path: req.url ?? '/' };
    if (req.headers.authorization) seen.authorization = req.headers.authorization;
    requests.push(seen);
    try {
      state.handle(req, res);
    } catch {
      res.destroy();
    }
  };
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(onRequest);
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const host = `${options.hostname ?? '127.0.0.1'}:${port}`;
  return {
    host,
    url: `${options.tls ? 'https' : 'http'}://${host}`,
    port,
    requests,
    get withAuthorization() {
      return requests.filter((r) => r.authorization !== undefined).length;
    },
    get handle() {
      return state.handle;
    },
    set handle(next: HostileHandler) {
      state.handle = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface EndlessBody {
  /** Resolves when the response is over: the bytes handed to the socket, and whether the client closed it first. */
  readonly done: Promise<{ sent: number; cutOff: boolean }>;
}

/**
 * Answers with `status` and a body of `totalBytes` generated on the fly (never allocated whole),
 * written only as fast as the client reads it, so `sent` says how much the client really took.
 */
export function sendEndlessBody(res: ServerResponse, status: number, totalBytes: number, headers: Record<string, string> = {}): EndlessBody {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let sent = 0;
  let finished = false;
  const done = new Promise<{ sent: number; cutOff: boolean }>((resolve) => {
    res.on('close', () => resolve({ sent, cutOff: !finished }));
  });
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(totalBytes), ...headers });
  const pump = () => {
    while (sent < totalBytes && !res.destroyed) {
      const size = Math.min(chunk.length, totalBytes - sent);
      sent += size;
      if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
        res.once('drain', pump);
        return;
      }
    }
    if (sent >= totalBytes && !res.destroyed) {
      finished = true;
      res.end();
    }
  };
  pump();
  return { done };
}
