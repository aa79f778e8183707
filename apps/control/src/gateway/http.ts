// HTTP plumbing for the gateway, written for hostile callers: request targets that do not parse,
// bodies that never end or are not JSON. Each helper fails with an HttpError carrying the status
// to answer, never with an exception the caller did not expect.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isAppError, type AppErrorCode } from '@cider/api/services';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The path of a request in origin-form (`/agent/v1`) or absolute-form (`http://host/agent/v1`,
 * which RFC 9112 section 3.2.2 says a server must accept). `*`, authority-form and anything that
 * does not parse are 400s.
 */
export function requestPath(req: IncomingMessage): string {
  const target = req.url ?? '';
  if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) throw new HttpError(400, 'Bad request target');
  try {
    return new URL(target, 'http://control').pathname;
  } catch {
    throw new HttpError(400, 'Bad request target');
  }
}

/** Reads a JSON body of at most `limit` bytes. */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new HttpError(413, `Request body over ${limit} bytes`));
  return new Promise((resolve, reject) => {
    let size = 0;
    let done = false;
    const chunks: Buffer[] = [];
    const finish = (error: HttpError | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Stop buffering; the answer goes out with `Connection: close`, which ends the upload.
        req.pause();
        finish(new HttpError(413, `Request body over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      try {
        finish(undefined, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        finish(new HttpError(400, 'Request body is not JSON'));
      }
    });
    req.on('error', () => finish(new HttpError(400, 'Request body could not be read')));
    req.on('aborted', () => finish(new HttpError(400, 'Request aborted')));
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Anything but success ends the connection: a refused upload must not keep streaming to us.
  res.writeHead(status, { 'content-type': 'application/json', ...(status >= 400 ? { connection: 'close' } : {}), ...headers });
  res.end(JSON.stringify(body));
}

/** Answers an upgrade request that will not become a WebSocket, and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const reason = message.replace(/[^\x20-\x7e]/g, ' ');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason) + 1}\r\n\r\n${reason}\n`);
  // A client that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 5_000).unref();
}

const statusOfCode: Partial<Record<AppErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_MANY_REQUESTS: 429,
};

/** The status and message to answer for an error: people's messages for AppErrors, a generic one otherwise. */
export function errorAnswer(error: unknown): { status: number; message: string; expected: boolean } {
  if (error instanceof HttpError) return { status: error.status, message: error.message, expected: true };
  if (isAppError(error) && statusOfCode[error.code]) return { status: statusOfCode[error.code]!, message: error.message, expected: true };
  return { status: 500, message: 'The control plane could not handle this request; see its log.', expected: false };
}

/** Node credentials are `<node id>.<secret>` in a Bearer header; anything else is refused without a query. */
export function nodeCredentials(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{16,200})$/.exec(authorization ?? '');
  return match?.[1];
}
