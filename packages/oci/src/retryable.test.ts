// OciError.retryable, decided where each error is made: the agent reports it as is, and the
// control plane requeues a retryable failure and gives up on the rest. Each case provokes the
// failure for real, against the run's registry through the fault proxy.
import { join } from 'node:path';
import { uniqueRepository } from '@cider/services/testing';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fetchBlobToCache } from './blob-fetch.ts';
import { HostCache } from './cache/cache.ts';
import { sha256 } from './digest.ts';
import { localFailure, OciError } from './errors.ts';
import { pull } from './pull.ts';
import { digestFile, pushArtifact } from './push.ts';
import { useRegistryFixture, writeRandomFile, type Fault } from '../testing/index.ts';

describe('OciError.retryable', () => {
  const fixture = useRegistryFixture('retryable', { retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } });
  const repository = uniqueRepository('retryable');
  let blobDigest: string;
  let caches = 0;
  const freshCache = () => HostCache.open(join(fixture.work, `cache-${caches++}`));

  beforeAll(async () => {
    const file = join(fixture.work, 'payload.bin');
    await writeRandomFile(file, 256 * 1024);
    blobDigest = (await digestFile(file)).digest;
    await pushArtifact({ client: fixture.client, reference: `${inject('registryHost')}/${repository}:v1`, files: [{ path: file }] });
  });

  /** The error a pull through the proxy ends with while `fault` is applied to the requests `applies` picks. */
  async function pullFailure(applies: (path: string, method: string) => boolean, fault: Fault, retries = 1): Promise<OciError> {
    fixture.proxy.setRule((req) => (applies(req.path, req.method) ? fault : undefined));
    const error = await pull({
      client: fixture.client,
      cache: await freshCache(),
      reference: `${fixture.proxy.host}/${repository}:v1`,
      materialize: false,
      blobFetch: { retries },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OciError);
    return error as OciError;
  }

  const blobGet = (path: string, method: string) => method === 'GET' && path.includes(`/blobs/${blobDigest}`);
  const manifestGet = (path: string, method: string) => method === 'GET' && path.includes('/manifests/');

  it('a blob the registry does not have (404) is not retryable', async () => {
    const missing = sha256(Buffer.from(`missing ${Math.random()}`));
    const repo = fixture.client.repository(inject('registryHost'), repository);
    const error = await fetchBlobToCache(repo, await freshCache(), { mediaType: 'application/octet-stream', digest: missing, size: 10 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NOT_FOUND', retryable: false });
  });

  it('a registry answering 500, 503 or 429 is retryable once the transport gives up', async () => {
    for (const status of [500, 503, 429]) {
      const error = await pullFailure(manifestGet, { kind: 'status', status });
      expect(error, `HTTP ${status}`).toMatchObject({ code: 'REGISTRY_ERROR', retryable: true });
    }
  });

  it('a registry answering 400 or 403 is not', async () => {
    expect(await pullFailure(manifestGet, { kind: 'status', status: 400 })).toMatchObject({ code: 'REGISTRY_ERROR', retryable: false });
    expect(await pullFailure(manifestGet, { kind: 'status', status: 403 })).toMatchObject({ code: 'DENIED', retryable: false });
  });

  it('a tampered blob is not retryable', async () => {
    const error = await pullFailure(blobGet, { kind: 'flip-byte', at: 1000 });
    expect(error).toMatchObject({ code: 'DIGEST_MISMATCH', retryable: false });
  });

  it('a connection reset in the middle of a blob download is retryable, as an OciError', async () => {
    // No retries of the download: the reset of the body stream (not of a request) is what it ends with.
    const error = await pullFailure(blobGet, { kind: 'drop', afterBytes: 64 * 1024 }, 0);
    expect(error).toMatchObject({ code: 'UNREACHABLE', retryable: true });
    expect(error.message).toContain(blobDigest);
  });

  it('a registry that cannot be reached is retryable', async () => {
    const error = await pull({ client: fixture.client, cache: await freshCache(), reference: `127.0.0.1:1/${repository}:v1` }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNREACHABLE', retryable: true });
  });

  it('a failure of the disk is CACHE_IO, retryable only when it may pass by itself; an abort reason is left alone', () => {
    const errno = (code: string) => Object.assign(new Error(`${code}: something`), { code });
    expect(localFailure(errno('EACCES'), 'Pulling x')).toMatchObject({ code: 'CACHE_IO', retryable: false, message: 'Pulling x failed: EACCES: something' });
    expect(localFailure(errno('EIO'), 'Pulling x')).toMatchObject({ code: 'CACHE_IO', retryable: false });
    expect(localFailure(errno('EMFILE'), 'Pulling x')).toMatchObject({ code: 'CACHE_IO', retryable: true });
    const abort = new AbortController();
    abort.abort();
    expect(localFailure(abort.signal.reason, 'Pulling x')).toBe(abort.signal.reason);
    const typed = new OciError('NOT_FOUND', 'gone');
    expect(localFailure(typed, 'Pulling x')).toBe(typed);
  });
});
