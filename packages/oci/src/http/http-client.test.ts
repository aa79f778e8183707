// Plain-http sockets read into one reused buffer each (http-client.ts, ReusedBufferAgent). The
// reuse must never show: bodies arrive intact however the bytes fall into reads (headers split
// across reads, a response and the next one's headers in one read, chunked bodies), also when
// the reader is slow and the socket is paused between reads, and a keep-alive socket serves
// request after request. Against a real node:http server on loopback.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient, type BodyTarget } from './http-client.ts';

const MiB = 1024 * 1024;
const body = randomBytes(6 * MiB + 777);
const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `bytes` in pieces of awkward sizes with pauses, so reads end anywhere. */
async function dribble(res: ServerResponse, bytes: Buffer): Promise<void> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const piece = [1, 7, 4093, 65_537, 300_001, 1_048_579][i % 6]!;
    if (!res.write(bytes.subarray(at, at + piece))) await new Promise((resolve) => res.once('drain', resolve));
    at += piece;
    if (i % 5 === 0) await pause(1);
  }
}

describe('http client: sockets that read into a reused buffer (real node:http server)', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  let client: HttpClient;

  beforeAll(async () => {
    server = createServer((req, res) => {
      void (async () => {
        if (req.url === '/whole') {
          res.writeHead(200, { 'content-length': String(body.length) });
          res.end(body);
        } else if (req.url === '/dribbled') {
          res.writeHead(200, { 'content-length': String(body.length) });
          await dribble(res, body);
          res.end();
        } else if (req.url === '/cut') {
          // Declares the whole body, sends part of it, then the connection drops.
          res.writeHead(200, { 'content-length': String(body.length) });
          res.write(body.subarray(0, 3 * MiB), () => setTimeout(() => req.socket.destroy(), 20));
        } else if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          await dribble(res, body);
          res.end();
        } else {
          res.writeHead(404, { 'content-length': '9' });
          res.end('not found');
        }
      })();
    });
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new HttpClient({ maxSocketsPerOrigin: 2 });
  });
  afterAll(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function fetchAll(path: string, slowReader = false): Promise<Buffer> {
    const response = await client.request(`${base}${path}`, { method: 'GET' });
    expect(response.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    let n = 0;
    await response.body.consume((chunk) => {
      // Kept as handed over, not copied: a chunk that shared the socket's buffer would change under us.
      chunks.push(chunk);
      if (slowReader && n++ % 3 === 0) return pause(2).then(() => {});
      return undefined;
    });
    return Buffer.concat(chunks);
  }

  it('delivers bodies intact however the bytes fall into reads, for a fast and a slow reader', async () => {
    for (const path of ['/whole', '/dribbled', '/chunked']) {
      expect(digest(await fetchAll(path))).toBe(digest(body));
      expect(digest(await fetchAll(path, true))).toBe(digest(body));
    }
  });

  it('serves many requests over kept-alive sockets, in parallel and one after another', async () => {
    const before = sockets.size;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([fetchAll('/whole', true), fetchAll('/dribbled'), fetchAll('/chunked', true)]);
      for (const result of results) expect(digest(result)).toBe(digest(body));
    }
    // Small answers in between: their headers and bodies share reads with nothing else.
    for (let i = 0; i < 20; i++) {
      const response = await client.request(`${base}/missing-${i}`, { method: 'GET' });
      expect(response.statusCode).toBe(404);
      expect(await response.body.text()).toBe('not found');
    }
    // Two sockets per origin at most, reused throughout.
    expect(sockets.size - before).toBeLessThanOrEqual(2);
  });

  /**
   * A target like the blob download's: rooms of `roomSize` bytes to read into, each "written"
   * when full (slowly, now and then, which pauses reading), and chunks that landed elsewhere copied.
   */
  function collector(roomSize: number, slowWriter: boolean) {
    const out: Buffer[] = [];
    let current = Buffer.alloc(roomSize);
    let used = 0;
    let full = 0;
    const counts = { filled: 0, taken: 0 };
    const close = () => {
      out.push(current.subarray(0, used));
      current = Buffer.alloc(roomSize);
      used = 0;
    };
    const target: BodyTarget = {
      room: () => current.subarray(used),
      filled: (bytes) => {
        counts.filled += bytes;
        used += bytes;
        if (used < roomSize) return undefined;
        close();
        return slowWriter && full++ % 3 === 0 ? pause(2).then(() => {}) : undefined;
      },
      take: (chunk) => {
        counts.taken += chunk.length;
        close();
        out.push(Buffer.from(chunk));
      },
    };
    return { target, counts, result: () => Buffer.concat([...out, current.subarray(0, used)]) };
  }

  it('reads a body with a Content-Length straight into the caller\'s memory, for a fast and a slow writer', async () => {
    for (const path of ['/whole', '/dribbled']) {
      for (const slowWriter of [false, true]) {
        const { target, counts, result } = collector(100_003, slowWriter);
        const response = await client.request(`${base}${path}`, { method: 'GET' });
        await response.body.readInto(target);
        expect(digest(result())).toBe(digest(body));
        // Most bytes skip the parser: only what came with the headers, and reads while the writer was busy, are copied.
        expect(counts.filled).toBeGreaterThan(body.length / 2);
        expect(counts.filled + counts.taken).toBe(body.length);
      }
    }
    // Chunked bodies go through the parser, chunk by chunk; the client still works afterwards.
    const { target, counts, result } = collector(100_003, false);
    const response = await client.request(`${base}/chunked`, { method: 'GET' });
    await response.body.readInto(target);
    expect(digest(result())).toBe(digest(body));
    expect(counts.filled).toBe(0);
    expect(digest(await fetchAll('/whole'))).toBe(digest(body));
  });

  it('fails a body read into memory that ends early as a reset connection', async () => {
    const { target, counts } = collector(100_003, false);
    const response = await client.request(`${base}/cut`, { method: 'GET' });
    await expect(response.body.readInto(target)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(counts.filled + counts.taken).toBe(3 * MiB);
  });
});
