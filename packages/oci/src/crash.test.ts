// Crash safety: a pull in another process is SIGKILLed at random points; every next pull
// resumes from the journal, nothing partial ever shows as a blob, and the cache passes fsck.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HostCache } from './cache/cache.ts';
import { fsck } from './cache/maintenance.ts';
import { digestFile, pushArtifact } from './push.ts';
import { RegistryClient } from './registry/client.ts';
import { startFaultProxy, writeRandomFile, type FaultProxy } from '../testing/index.ts';

const MiB = 1024 * 1024;
const root = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('../testing/pull-child.ts', import.meta.url));

/** Runs a pull in a child process; kills it with SIGKILL once `killAt` of the bytes arrived. */
function runPull(reference: string, cacheDir: string, killAt?: number): Promise<{ killed: boolean; digest?: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, reference, cacheDir, '1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let killed = false;
    let digest: string | undefined;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const [word, a, b] = line.split(' ');
      if (word === 'done') digest = a;
      if (word === 'progress' && killAt !== undefined && !killed && Number(b) > 0 && Number(a) / Number(b) >= killAt) {
        killed = true;
        proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ killed, digest });
      else reject(new Error(`pull child failed (${code}): ${stderr}`));
    });
  });
}

describe('a pull killed with SIGKILL (real registry, child processes)', () => {
  let work: string;
  let proxy: FaultProxy;
  const repository = uniqueRepository('crash');
  const size = 24 * MiB + 999;
  let blobDigest: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-crash-'));
    const file = join(work, 'payload.bin');
    await writeRandomFile(file, size);
    blobDigest = (await digestFile(file)).digest;
    const client = new RegistryClient();
    await pushArtifact({ client, reference: `${inject('registryHost')}/${repository}:v1`, files: [{ path: file }] });
    await client.close();
    // Slow enough per connection that the kills land mid-download.
    proxy = await startFaultProxy(inject('registryUrl'), (req) =>
      req.method === 'GET' && req.path.includes('/blobs/') ? { kind: 'throttle', bytesPerSecond: 3 * MiB } : undefined,
    );
  });
  afterAll(async () => {
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it('resumes after each kill, fetches little twice, and leaves a cache that passes fsck', async () => {
    const cacheDir = join(work, 'cache');
    const reference = `${proxy.host}/${repository}:v1`;
    const killPoints = [0.1 + Math.random() * 0.2, 0.4 + Math.random() * 0.2, 0.7 + Math.random() * 0.2];
    for (const point of killPoints) {
      const run = await runPull(reference, cacheDir, point);
      expect(run.killed).toBe(true);
      const cache = await HostCache.open(cacheDir);
      // A killed pull never leaves a partial blob visible.
      expect(await cache.hasBlob(blobDigest)).toBe(false);
      expect((await cache.readIndex()).manifests).toEqual([]);
    }
    const final = await runPull(reference, cacheDir);
    expect(final.digest).toMatch(/^sha256:/);

    const cache = await HostCache.open(cacheDir);
    expect(await cache.hasBlob(blobDigest)).toBe(true);
    const report = await fsck(cache);
    expect(report).toMatchObject({ ok: true, quarantined: [], missing: [], brokenImages: [] });
    expect(await readdir(cache.layout.ingestDir)).toEqual([]);
    // Each kill loses at most what was in flight since the last journal save.
    expect(proxy.blobBytesServed).toBeLessThan(size * 1.35);
  }, 120_000);
});
