// A fetch-style handler ((Request) => Promise<Response>, as Next.js route handlers and the REST
// API v1 handler are) served over real HTTP on 127.0.0.1, for tests that drive it with curl, the
// CLI or fetch. Request bodies are read whole (tests send small ones, capped); response bodies
// stream with backpressure, so a multi-GiB download keeps memory flat.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

export interface ServedHandler {
  /** http://127.0.0.1:<port>, no trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

const maxRequestBody = 16 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxRequestBody) req.destroy(new Error(`test request body over ${maxRequestBody} bytes`));
      else chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length ? Buffer.concat(chunks) : undefined));
    req.once('error', reject);
  });
}

/** Serves `handle` on 127.0.0.1 at a free port; `onRequest` sees each request first (to record it). */
export async function serveFetchHandler(handle: (request: Request) => Promise<Response>, options: { onRequest?: (req: IncomingMessage) => void } = {}): Promise<ServedHandler> {
  let url = '';
  const server = createServer((req, res) => {
    options.onRequest?.(req);
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    void (async () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
      const body = await readBody(req);
      const response = await handle(new Request(`${url}${req.url}`, { method: req.method, headers, body: body ? new Uint8Array(body) : undefined, signal: abort.signal }));
      // forEach, not entries(): the one iteration both Node's and the DOM's Headers types declare.
      const head: Record<string, string> = {};
      response.headers.forEach((value, name) => (head[name] = value));
      res.writeHead(response.status, head);
      if (!response.body) return void res.end();
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), res);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
