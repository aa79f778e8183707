// urlSource against a real web server on 127.0.0.1 (testing/range-server.ts): positioned reads,
// redirects, a stream that resumes at the byte it reached after drops and stalls (the server's
// byte count proves it resumed rather than restarted), and the errors a person meets: a server
// that ignores Range, a file that changes half-way, a 404, a server that keeps failing.
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OciError } from '../errors.ts';
import { makeTestCertificate, startRangeServer, writeRandomFile, type RangeServer } from '../../testing/index.ts';
import { urlSource } from './url-source.ts';

const MiB = 1024 * 1024;
const size = 24 * MiB + 12345;
const fast = { retryBaseMs: 5, retryMaxMs: 20 };

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('urlSource (a real HTTP server on 127.0.0.1)', () => {
  let work: string;
  let path: string;
  let bytes: Buffer;
  let server: RangeServer | undefined;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-url-'));
    path = join(work, 'file.bin');
    await writeRandomFile(path, size);
    bytes = await readFile(path);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('learns the size, reads exact ranges, and names the file after the URL without its query', async () => {
    server = await startRangeServer({ files: { '/dl/UniversalMac.ipsw': path } });
    const source = await urlSource(`${server.url('/dl/UniversalMac.ipsw')}?token=secret`, fast);
    try {
      expect(source.size).toBe(size);
      expect(source.name).toBe('UniversalMac.ipsw');
      expect(source.description).toBe(server.url('/dl/UniversalMac.ipsw'));
      expect((await source.read(1000, 4096)).equals(bytes.subarray(1000, 5096))).toBe(true);
      expect((await source.read(size - 10, 10)).equals(bytes.subarray(size - 10))).toBe(true);
      await expect(source.read(size - 10, 11)).rejects.toThrow(/outside/);
      // Every request after the first is pinned to the file's version.
      expect(server.requests.slice(1).every((r) => r.ifRange === '"v1"')).toBe(true);
    } finally {
      await source.close();
    }
  });

  it('follows up to 5 redirects, and refuses a sixth', async () => {
    server = await startRangeServer({ files: { '/f.bin': path } });
    const source = await urlSource(server.redirecting('/f.bin', 5), fast);
    expect((await source.read(0, 16)).equals(bytes.subarray(0, 16))).toBe(true);
    await source.close();
    await expect(urlSource(server.redirecting('/f.bin', 6), fast)).rejects.toThrow(/redirected more than 5 times/);
  });

  it.each([
    { name: 'once', at: [9 * MiB + 7] },
    { name: 'several times', at: [3 * MiB, 3 * MiB + 100, 11 * MiB + 1, 20 * MiB] },
  ])('resumes a stream dropped $name at the byte it reached: every byte once, in order', async ({ at }) => {
    server = await startRangeServer({ files: { '/f.bin': path }, faults: at.map((offset) => ({ at: offset, kind: 'drop' as const })) });
    const source = await urlSource(server.url('/f.bin'), fast);
    const got = await drain(source.stream(0, size));
    await source.close();
    expect(got.length).toBe(size);
    expect(sha(got)).toBe(sha(bytes));
    const streamed = server.requests.slice(1);
    // One request, then one per drop from the byte that had arrived (at most the drop's offset: what was in flight is lost).
    expect(streamed.length).toBe(1 + at.length);
    const starts = streamed.map((r) => Number(/^bytes=(\d+)-/.exec(r.range ?? '')?.[1]));
    expect(starts[0]).toBe(0);
    at.forEach((offset, i) => {
      expect(starts[i + 1]).toBeLessThanOrEqual(offset);
      expect(starts[i + 1]).toBeGreaterThan(i === 0 ? 0 : at[i - 1]! - 2 * MiB);
    });
    // Bytes the server wrote: the file once plus what was in flight at each drop, never a restart.
    expect(server.bytesSent).toBeGreaterThanOrEqual(size);
    expect(server.bytesSent).toBeLessThan(size + at.length * 2 * MiB);
  });

  it('resumes a stream that stalls, after its idle timeout', async () => {
    server = await startRangeServer({ files: { '/f.bin': path }, faults: [{ at: 5 * MiB, kind: 'stall' }] });
    const source = await urlSource(server.url('/f.bin'), { ...fast, idleTimeoutMs: 300 });
    const got = await drain(source.stream(MiB, size - MiB));
    await source.close();
    expect(sha(got)).toBe(sha(bytes.subarray(MiB, size - MiB)));
    expect(server.requests.slice(1).map((r) => r.range)).toEqual([`bytes=${MiB}-${size - MiB - 1}`, `bytes=${5 * MiB}-${size - MiB - 1}`]);
  });

  it('gives up after a number of attempts in a row without a byte, saying where it stopped', async () => {
    const at = 4 * MiB;
    server = await startRangeServer({ files: { '/f.bin': path }, faults: Array.from({ length: 10 }, () => ({ at, kind: 'drop' as const })) });
    const source = await urlSource(server.url('/f.bin'), { ...fast, attempts: 3 });
    const error = await drain(source.stream(0, size)).catch((e: unknown) => e);
    await source.close();
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).message).toMatch(new RegExp(`the connection was reset; gave up at byte ${at} of ${size} after 3 attempts in a row without progress`));
    expect(server.requests.length).toBe(1 + 1 + 3);
  });

  it('a server that ignores Range: a clear error for reads, and a stream from byte 0 still works', async () => {
    server = await startRangeServer({ files: { '/f.bin': path }, ignoreRange: true });
    const source = await urlSource(server.url('/f.bin'), fast);
    expect(source.size).toBe(size);
    await expect(source.read(100, 10)).rejects.toThrow(/ignores Range requests \(it sent the whole file, HTTP 200, when asked for bytes from 100\)/);
    expect(sha(await drain(source.stream(0, size)))).toBe(sha(bytes));
    await expect(drain(source.stream(10, 20))).rejects.toThrow(/ignores Range requests/);
    await source.close();
    // The probe and the refused read stopped reading the whole file early.
    expect(server.bytesSent).toBeLessThan(size + 6 * MiB);
  });

  it('a file that changes half-way (its ETag) is an error, never a mix of two files', async () => {
    server = await startRangeServer({ files: { '/f.bin': path }, faults: [{ at: 8 * MiB, kind: 'drop', thenEtag: '"v2"' }] });
    const source = await urlSource(server.url('/f.bin'), fast);
    const delivered: number[] = [];
    const stream = source.stream(0, size);
    stream.on('data', (chunk: Buffer) => delivered.push(chunk.length));
    const error = await new Promise((resolve) => stream.once('error', resolve));
    await source.close();
    expect(error).toBeInstanceOf(OciError);
    expect((error as OciError).message).toMatch(/changed while it was being read \(its ETag was "v1", now "v2"\)/);
    expect(delivered.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(8 * MiB);
  });

  it('a missing file, a refused connection and a non-http URL say so', async () => {
    server = await startRangeServer({ files: {} });
    await expect(urlSource(server.url('/nope.ipsw'), fast)).rejects.toThrow(`${server.url('/nope.ipsw')} was not found (HTTP 404); check the URL`);
    const origin = server.origin;
    await server.close();
    server = undefined;
    await expect(urlSource(`${origin}/f.bin`, { ...fast, attempts: 2 })).rejects.toThrow(/Cannot download .*: connection refused \(is the server running/);
    await expect(urlSource('ftp://example.com/f.bin')).rejects.toThrow(/only http and https URLs can be read/);
    await expect(urlSource('http://169.254.169.254/latest/meta-data', { ...fast, guardAddresses: true })).rejects.toThrow(/refused to connect to 169\.254\.169\.254: .*link-local/);
  });

  it('refuses a redirect to a link-local (cloud metadata) address, and one from https down to plain http, before connecting there', async () => {
    server = await startRangeServer({ files: { '/f.bin': path } });
    const listen = async (make: () => Server): Promise<{ server: Server; port: number }> => {
      const made = make();
      await new Promise<void>((resolve) => made.listen(0, '127.0.0.1', resolve));
      return { server: made, port: (made.address() as AddressInfo).port };
    };
    const toMetadata = await listen(() => createHttpServer((_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' }).end()));
    const certificate = await makeTestCertificate();
    const target = server.url('/f.bin');
    const downgrade = await listen(() => createHttpsServer(certificate, (_req, res) => res.writeHead(302, { location: target }).end()));
    try {
      await expect(urlSource(`http://127.0.0.1:${toMetadata.port}/a.ipsw`, fast)).rejects.toThrow(/169\.254\.169\.254.*link-local/);
      const before = server.requests.length;
      await expect(urlSource(`https://127.0.0.1:${downgrade.port}/a.ipsw`, { ...fast, ca: certificate.cert })).rejects.toThrow(/redirected from https to plain http/);
      expect(server.requests.length).toBe(before); // nothing reached the plain-http host
    } finally {
      toMetadata.server.close();
      downgrade.server.close();
    }
  });
});
