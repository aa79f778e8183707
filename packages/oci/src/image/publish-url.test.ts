// Publishing an IPSW straight from a URL (a real web server on 127.0.0.1 and the real
// docker-registry): the same image as a local push, through dropped connections and a registry
// that loses the upload session; stated digests checked before anything is tagged; clear errors
// for a URL that is not an IPSW.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { urlSource } from '../bytes/url-source.ts';
import { NotFoundError, OciError } from '../errors.ts';
import { digestFile } from '../push.ts';
import type { RegistryClient } from '../registry/client.ts';
import { assertValidOci, makeSyntheticIpsw, startRangeServer, useRegistryFixture, writeRandomFile, type FaultProxy, type RangeServer } from '../../testing/index.ts';
import { inspectIpsw } from './ipsw.ts';
import { pushIpsw } from './publish.ts';

const MiB = 1024 * 1024;
const fast = { retryBaseMs: 5, retryMaxMs: 20 };
const created = '2026-01-02T03:04:05Z';

describe('publishing an IPSW from a URL (real docker-registry, web server on 127.0.0.1)', () => {
  const fixture = useRegistryFixture('publish-url', { retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  let work: string;
  let client: RegistryClient;
  let proxy: FaultProxy;
  let ipsw: string;
  let size: number;
  let sha1: string;
  let server: RangeServer | undefined;
  const host = () => inject('registryHost');

  beforeAll(async () => {
    ({ work, client, proxy } = fixture);
    ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 80 * MiB });
    const bytes = await readFile(ipsw);
    size = bytes.length;
    sha1 = createHash('sha1').update(bytes).digest('hex');
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('inspects an IPSW by URL with a few small Range requests', async () => {
    server = await startRangeServer({ files: { '/ipsw/a.ipsw': ipsw } });
    const source = await urlSource(server.url('/ipsw/a.ipsw'), fast);
    try {
      const info = await inspectIpsw(source);
      expect(info).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101', name: 'a.ipsw', size });
      expect(server.requests.length).toBeLessThanOrEqual(6);
      expect(server.bytesSent).toBeLessThan(MiB);
    } finally {
      await source.close();
    }
  });

  it('pushes through dropped connections the same image as a local push, resuming by range', async () => {
    const repository = uniqueRepository('from-url');
    const local = await pushIpsw({ client, path: ipsw, repository: `${host()}/${repository}`, tags: ['local'], origin: 'https://updates.example/a.ipsw', created, uploadChunkSize: 16 * MiB });
    const drops = [20 * MiB + 3, 26 * MiB, 55 * MiB + 17];
    // Served under the file's own name: the layer's title is the file name either way.
    const name = `/${basename(ipsw)}`;
    server = await startRangeServer({ files: { [name]: ipsw }, faults: drops.map((at) => ({ at, kind: 'drop' as const })) });
    const source = await urlSource(`${server.url(name)}?signature=abc`, fast);
    try {
      const progress: number[] = [];
      const remote = await pushIpsw({
        client,
        source,
        repository: `${host()}/${repository}`,
        tags: ['remote'],
        origin: 'https://updates.example/a.ipsw',
        created,
        uploadChunkSize: 16 * MiB,
        expect: { sha1 },
        onProgress: (p) => progress.push(p.bytesDone),
      });
      expect(remote.digest).toBe(local.digest);
      // The bar follows the bytes as they stream (about every MiB), not in 16 MiB upload chunks,
      // and never moves back, drops and all.
      expect(progress.filter((done) => done > 0 && done < 16 * MiB).length).toBeGreaterThanOrEqual(10);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(progress.at(-1)).toBe(size);
      expect(remote.manifest.layers[0]!.digest).toBe((await digestFile(ipsw)).digest);
      assertValidOci('manifest', remote.manifest);
      // The file once, the zip directory and plists, and what was in flight at each drop.
      expect(server.bytesSent).toBeGreaterThanOrEqual(size);
      expect(server.bytesSent).toBeLessThan(size + drops.length * 2 * MiB + MiB);
      expect(server.requests.filter((r) => r.bytesSent > 2 * MiB).length).toBe(drops.length + 1);
    } finally {
      await source.close();
    }
  });

  it('pushes through a connection that stalls, resuming after the idle timeout', async () => {
    server = await startRangeServer({ files: { '/a.ipsw': ipsw }, faults: [{ at: 40 * MiB, kind: 'stall' }] });
    const source = await urlSource(server.url('/a.ipsw'), { ...fast, idleTimeoutMs: 500 });
    try {
      const pushed = await pushIpsw({ client, source, repository: `${host()}/${uniqueRepository('stall')}`, tags: ['15.2'], uploadChunkSize: 16 * MiB, expect: { sha1 } });
      expect(pushed.manifest.layers[0]!.digest).toBe((await digestFile(ipsw)).digest);
      expect(server.requests.filter((r) => r.bytesSent > 2 * MiB).length).toBe(2);
      expect(server.bytesSent).toBeLessThan(size + 3 * MiB);
    } finally {
      await source.close();
    }
  });

  it('records the URL without its query as the image source by default', async () => {
    server = await startRangeServer({ files: { '/dl/a.ipsw': ipsw } });
    const source = await urlSource(`${server.url('/dl/a.ipsw')}?Expires=1&Signature=secret`, fast);
    try {
      const pushed = await pushIpsw({ client, source, repository: `${host()}/${uniqueRepository('source')}`, tags: ['15.2'], chunkSize: 32 * MiB });
      expect(pushed.manifest.annotations?.['org.opencontainers.image.source']).toBe(server.url('/dl/a.ipsw'));
      expect(pushed.manifest.layers.length).toBe(Math.ceil(size / (32 * MiB)));
    } finally {
      await source.close();
    }
  });

  it('when the registry loses the upload session (404), starts a new one and streams the URL again from its start', async () => {
    server = await startRangeServer({ files: { '/a.ipsw': ipsw } });
    const source = await urlSource(server.url('/a.ipsw'), fast);
    let patches = 0;
    let lost = false;
    proxy.setRule((req) => {
      if (req.method === 'PATCH' && ++patches === 3) {
        lost = true;
        return { kind: 'status', status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}' };
      }
      if (lost && req.method === 'GET' && req.path.includes('/blobs/uploads/')) {
        lost = false;
        return { kind: 'status', status: 404, headers: { 'content-type': 'application/json' }, body: '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown"}]}' };
      }
      return undefined;
    });
    try {
      const pushed = await pushIpsw({ client, source, repository: `${proxy.host}/${uniqueRepository('lost')}`, tags: ['15.2'], uploadChunkSize: 16 * MiB });
      expect(pushed.manifest.layers[0]!.digest).toBe((await digestFile(ipsw)).digest);
      expect(proxy.requests.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(2);
      // Re-read from the URL, never from a local copy: the server sent the first chunks twice.
      expect(server.bytesSent).toBeGreaterThan(size + 16 * MiB);
    } finally {
      await source.close();
    }
  });

  it.each([
    { algorithm: 'sha1' as const, wrong: 'a'.repeat(40) },
    { algorithm: 'sha256' as const, wrong: `sha256:${'b'.repeat(64)}` },
  ])('a $algorithm that does not match stops the push before anything is tagged, naming both digests', async ({ algorithm, wrong }) => {
    server = await startRangeServer({ files: { '/a.ipsw': ipsw } });
    const source = await urlSource(server.url('/a.ipsw'), fast);
    const repository = `${host()}/${uniqueRepository('mismatch')}`;
    try {
      const error = await pushIpsw({ client, source, repository, tags: ['15.2'], uploadChunkSize: 16 * MiB, expect: { [algorithm]: wrong } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OciError);
      expect((error as OciError).code).toBe('DIGEST_MISMATCH');
      const actual = algorithm === 'sha1' ? `sha1:${sha1}` : (await digestFile(ipsw)).digest;
      expect((error as OciError).message).toContain(`expected ${algorithm}:${wrong.replace(/^sha256:/, '')}, got ${actual}`);
      await expect(client.repositoryOf(`${repository}:15.2`).resolve('15.2')).rejects.toBeInstanceOf(NotFoundError);
      // Cancelled before the closing PUT: the registry never took the file as a blob.
      expect(await client.repositoryOf(`${repository}:15.2`).blobExists((await digestFile(ipsw)).digest)).toBeUndefined();
    } finally {
      await source.close();
    }
  });

  it('a URL that is not a zip, and one that is missing, say so', async () => {
    const junk = join(work, 'junk.ipsw');
    await writeRandomFile(junk, 3 * MiB);
    server = await startRangeServer({ files: { '/junk.ipsw': junk } });
    const source = await urlSource(server.url('/junk.ipsw'), fast);
    await expect(inspectIpsw(source)).rejects.toThrow('junk.ipsw is not a usable IPSW: it is not a zip archive (no zip directory at its end)');
    await source.close();
    await expect(urlSource(server.url('/missing.ipsw'), fast)).rejects.toThrow(/missing\.ipsw was not found \(HTTP 404\)/);
  });
});
