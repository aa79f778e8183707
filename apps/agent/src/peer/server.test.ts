import { createHash, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostCache } from '@cider/oci';
import { issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey } from '@cider/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRange, startPeerServer, type PeerServer, type PeerServerOptions } from './server.ts';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Polls `condition` until true, for at most `ms`. */
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends raw bytes and returns the status line of whatever comes back (or '' if the socket just closed). */
function rawStatus(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = () => {
      socket.destroy();
      resolve(received.split('\r\n', 1)[0]!);
    };
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      if (received.includes('\r\n')) done();
    });
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' || error.code === 'EPIPE' ? done() : reject(error)));
    socket.write(request);
  });
}

describe('peer server', () => {
  let work: string;
  let cache: HostCache;
  let blob: Buffer;
  let digest: string;
  let signingKey: KeyObject;
  let publicKey: string;
  const nodeId = randomUUID();
  const reader = randomUUID();
  const servers: PeerServer[] = [];
  const refusals: string[] = [];

  const start = async (options: Partial<PeerServerOptions> = {}) => {
    const server = await startPeerServer({
      cache,
      nodeId,
      publicKey,
      host: '127.0.0.1',
      port: 0,
      maxConcurrentUploads: 4,
      maxUploadBytesPerSecond: 0,
      log: {
        debug: (obj: { reason?: string }) => {
          if (obj.reason) refusals.push(obj.reason);
        },
        warn: () => {},
      },
      ...options,
    });
    servers.push(server);
    return server;
  };
  const ticketFor = (grant: Partial<{ reader: string; server: string; digest: string }> = {}, options?: { now?: Date; seconds?: number }) =>
    issuePeerTicket(signingKey, { reader, server: nodeId, digest, ...grant }, options);
  const blobUrl = (server: PeerServer, d = digest) => `http://127.0.0.1:${server.port}/v2/some/repo/blobs/${d}`;
  const read = (server: PeerServer, headers: Record<string, string> = {}, options: { digest?: string; method?: string } = {}) =>
    fetch(blobUrl(server, options.digest), { method: options.method ?? 'GET', headers: { Authorization: `Bearer ${ticketFor({ digest: options.digest ?? digest })}`, ...headers } });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-peer-'));
    cache = await HostCache.open(join(work, 'cache'));
    blob = randomBytes(3 * MiB + 12345);
    digest = `sha256:${sha256(blob)}`;
    await cache.putBlob(digest as `sha256:${string}`, blob);
    signingKey = peerTicketSigningKey(randomBytes(32));
    publicKey = peerTicketPublicKey(signingKey);
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    refusals.length = 0;
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('serves the whole verified blob and single ranges of it, and counts what it uploaded', async () => {
    const server = await start();
    expect(sha256(await readFile(cache.blobPath(digest)))).toBe(sha256(blob));

    const whole = await read(server, { 'X-Cider-Node': reader });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('docker-content-digest')).toBe(digest);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-length')).toBe(String(blob.length));
    expect(sha256(Buffer.from(await whole.arrayBuffer()))).toBe(sha256(blob));

    const size = blob.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1048576-2097151', MiB, 2 * MiB - 1],
      [`bytes=${size - 1000}-`, size - 1000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=${size - 10}-${size * 2}`, size - 10, size - 1],
      ['bytes=-99999999', 0, size - 1],
    ];
    let ranged = 0;
    for (const [header, first, last] of cases) {
      const response = await read(server, { Range: header });
      expect(response.status, header).toBe(206);
      expect(response.headers.get('content-range'), header).toBe(`bytes ${first}-${last}/${size}`);
      expect(response.headers.get('content-length'), header).toBe(String(last - first + 1));
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(sha256(bytes), header).toBe(sha256(blob.subarray(first, last + 1)));
      ranged += bytes.length;
    }

    const head = await read(server, {}, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    await until(() => server.stats().uploadsInFlight === 0);
    const stats = server.stats();
    expect(stats.bytesUploaded).toBe(size + ranged);
    expect(stats.bytesByDigest).toEqual({ [digest]: size + ranged });
    expect(refusals).toEqual([]);
  });

  it('answers 401 with a Bearer challenge to every request without a good ticket, naming no reason', async () => {
    const server = await start();
    const otherKey = peerTicketSigningKey(randomBytes(32));
    const otherDigest = `sha256:${'ab'.repeat(32)}`;
    const attempts: [string, Record<string, string>][] = [
      ['missing', {}],
      ['expired', { Authorization: `Bearer ${ticketFor({}, { now: new Date(Date.now() - 3600_000), seconds: 60 })}` }],
      ['other-server', { Authorization: `Bearer ${ticketFor({ server: randomUUID() })}` }],
      ['other-digest', { Authorization: `Bearer ${ticketFor({ digest: otherDigest })}` }],
      ['other-reader', { Authorization: `Bearer ${ticketFor()}`, 'X-Cider-Node': randomUUID() }],
      ['malformed', { Authorization: 'Bearer not-a-ticket' }],
      ['bad-signature', { Authorization: `Bearer ${issuePeerTicket(otherKey, { reader, server: nodeId, digest })}` }],
      ['missing', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ];
    for (const [reason, headers] of attempts) {
      const response = await fetch(blobUrl(server), { headers });
      expect(response.status, reason).toBe(401);
      expect(response.headers.get('www-authenticate'), reason).toBe('Bearer realm="cider-peer"');
      const body = await response.text();
      expect(body, reason).not.toContain(reason);
      expect(body, reason).not.toContain(nodeId);
    }
    expect(refusals).toEqual(attempts.map(([reason]) => reason));
    expect(server.stats()).toMatchObject({ refusedTickets: attempts.length, bytesUploaded: 0 });
    // HEAD needs a ticket too, and says nothing about what is held without one.
    expect((await fetch(blobUrl(server), { method: 'HEAD' })).status).toBe(401);
  });

  it('answers 404 for a digest it does not hold, 400 for a malformed one, 404/405 off its route', async () => {
    const server = await start();
    const unheld = `sha256:${'cd'.repeat(32)}`;
    expect((await read(server, {}, { digest: unheld })).status).toBe(404);
    const malformed = await fetch(`http://127.0.0.1:${server.port}/v2/some/repo/blobs/sha256:abc`, { headers: { Authorization: `Bearer ${ticketFor()}` } });
    expect(malformed.status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${server.port}/v2/some/repo/blobs/sha256:..%2F..%2Fetc`)).status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${server.port}/v2/some/repo/manifests/latest`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/v2/UPPER/blobs/${digest}`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    const post = await fetch(blobUrl(server), { method: 'POST', headers: { Authorization: `Bearer ${ticketFor()}` } });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(server.stats().bytesUploaded).toBe(0);
  });

  it('answers 416 to ranges it cannot satisfy or does not serve (multi-range included)', async () => {
    const server = await start();
    const size = blob.length;
    for (const header of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=10-5', 'bytes=-0', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=abc']) {
      const response = await read(server, { Range: header });
      expect(response.status, header).toBe(416);
      expect(response.headers.get('content-range'), header).toBe(`bytes */${size}`);
      await response.arrayBuffer();
    }
    await until(() => server.stats().uploadsInFlight === 0);
    expect(server.stats().bytesUploaded).toBe(0);
  });

  it('parses ranges against the size', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=-3', 2)).toEqual({ start: 0, end: 1 });
    expect(parseRange('bytes=99999999999999999-', 10)).toBe('unsatisfiable');
  });

  it('answers 503 with Retry-After beyond its upload limit, and frees the slot when a reader goes away', async () => {
    // A slow cap keeps the first upload running while the second asks.
    const server = await start({ maxConcurrentUploads: 1, maxUploadBytesPerSecond: 64 * 1024 });
    const first = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = get(blobUrl(server), { headers: { Authorization: `Bearer ${ticketFor()}` } }, resolve);
      request.on('error', reject);
    });
    expect(first.statusCode).toBe(200);
    expect(server.stats().uploadsInFlight).toBe(1);

    const second = await read(server);
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('1');
    // HEAD takes no slot.
    expect((await read(server, {}, { method: 'HEAD' })).status).toBe(200);

    first.destroy();
    await until(() => server.stats().uploadsInFlight === 0);
    const third = await read(server, { Range: 'bytes=0-1023' });
    expect(third.status).toBe(206);
    expect(sha256(Buffer.from(await third.arrayBuffer()))).toBe(sha256(blob.subarray(0, 1024)));
    expect(server.stats().refusedBusy).toBe(1);
    // The first upload was cut short: far less than the blob was counted.
    expect(server.stats().bytesUploaded).toBeLessThan(blob.length);
  });

  it('paces uploads to its bandwidth cap, shared by concurrent readers', async () => {
    const server = await start({ maxUploadBytesPerSecond: 4 * MiB });
    const started = performance.now();
    const bytes = Buffer.from(await (await read(server, { Range: `bytes=0-${2 * MiB - 1}` })).arrayBuffer());
    const alone = (performance.now() - started) / 1000;
    expect(sha256(bytes)).toBe(sha256(blob.subarray(0, 2 * MiB)));
    // 2 MiB at 4 MiB/s is 0.5 s, less a 50 ms burst allowance.
    expect(alone).toBeGreaterThanOrEqual(0.4);

    // Two readers of 1 MiB each share the same 4 MiB/s: together again about 0.5 s, not 0.25 s.
    const both = performance.now();
    const halves = await Promise.all(
      [0, 1].map(async (i) => Buffer.from(await (await read(server, { Range: `bytes=${i * MiB}-${(i + 1) * MiB - 1}` })).arrayBuffer())),
    );
    expect(sha256(Buffer.concat(halves))).toBe(sha256(blob.subarray(0, 2 * MiB)));
    expect((performance.now() - both) / 1000).toBeGreaterThanOrEqual(0.4);
  });

  it('answers hostile requests with a 4xx (or a closed socket) and keeps serving', async () => {
    const server = await start({ timeouts: { headersMs: 500, requestMs: 1000 } });
    const hugeHeader = `GET /v2/a/blobs/${digest} HTTP/1.1\r\nHost: x\r\nX-Junk: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(await rawStatus(server.port, hugeHeader)).toMatch(/^HTTP\/1\.1 431/);
    const absurdPath = `GET /v2/${'a/'.repeat(3000)}blobs/${digest} HTTP/1.1\r\nHost: x\r\n\r\n`;
    expect(await rawStatus(server.port, absurdPath)).toMatch(/^HTTP\/1\.1 (414|431)/);
    const longName = `GET /v2/${'a'.repeat(300)}/blobs/${digest} HTTP/1.1\r\nHost: x\r\n\r\n`;
    expect(await rawStatus(server.port, longName)).toMatch(/^HTTP\/1\.1 404/);
    expect(await rawStatus(server.port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]))).toMatch(/^HTTP\/1\.1 400/);
    const longTicket = `GET /v2/a/blobs/${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cpt1.${'A'.repeat(5000)}\r\nX-Cider-Node: ${'n'.repeat(2000)}\r\n\r\n`;
    expect(await rawStatus(server.port, longTicket)).toMatch(/^HTTP\/1\.1 401/);
    // A caller that sends half a request and then nothing is cut off by the headers timeout.
    const silent = connect(server.port, '127.0.0.1');
    silent.write('GET /v2/a/blobs/');
    const closed = await new Promise<number>((resolve) => {
      const since = Date.now();
      silent.on('close', () => resolve(Date.now() - since));
      silent.on('error', () => {});
      silent.resume();
    });
    expect(closed).toBeLessThan(5000);

    const response = await read(server, { Range: 'bytes=0-9' });
    expect(response.status).toBe(206);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(blob.subarray(0, 10));
  });
});
