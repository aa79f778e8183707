// `cider bundle` as an operator runs it (real processes) against the real registry: export, verify
// and import with --json and exit codes; an import SIGKILLed mid-way and run again, which sends
// none of the blobs the first run finished (counted by a proxy in front of the registry); and the
// 1 GiB round trip (flat memory, same digests through cider and through skopeo).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushArtifact, RegistryClient, type Digest } from '@cider/oci';
import { rewriteTar, skopeo, startFaultProxy, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { waitFor } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleRoundTrip, describeFigures } from './testing/bundle-roundtrip.ts';
import { runCider } from './testing/run-cider.ts';

const MiB = 1024 * 1024;
const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

describe('cider bundle (real processes, real docker-registry)', () => {
  let work: string;
  let env: Record<string, string>;
  let client: RegistryClient;
  let proxy: FaultProxy;
  let reference: string;
  let digest: string;
  let layers: string[];
  let blobs: Digest[];
  let tar: string;
  const host = () => inject('registryHost');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-bundle-cli-'));
    env = { DOCKER_CONFIG: join(work, 'docker'), CIDER_SERVER: '', CIDER_TOKEN: '' };
    client = new RegistryClient();
    proxy = await startFaultProxy(inject('registryUrl'));
    // Eight layers of 3 MiB: enough separate uploads to kill an import between two of them.
    const files = [];
    for (let i = 0; i < 8; i++) {
      const path = join(work, `part-${i}.bin`);
      await writeRandomFile(path, 3 * MiB + i);
      files.push({ path });
    }
    const repository = uniqueRepository('bundle-cli');
    reference = `${host()}/${repository}:15.2`;
    const pushed = await pushArtifact({ client, reference, files, artifactType: 'application/vnd.cider.image.v1' });
    digest = pushed.digest;
    layers = pushed.manifest.layers.map((l) => l.digest);
    blobs = [pushed.manifest.config.digest, ...pushed.manifest.layers.map((l) => l.digest)];
    tar = join(work, 'site.tar');
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rm(work, { recursive: true, force: true });
  });

  it('exports, prints the tar path last, and refuses to overwrite it (exit 2, no stack)', async () => {
    const run = await runCider(['bundle', 'export', reference, '-o', tar], { env });
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(lastLine(run.stdout)).toBe(tar);
    expect(run.stdout).toContain(`${reference.slice(host().length + 1)}  ${digest}`);
    const again = await runCider(['--json', 'bundle', 'export', reference, '-o', tar], { env });
    expect(again.code).toBe(2); // bad input, as an invalid reference is
    expect(JSON.parse(again.stdout)).toEqual({ error: { code: 'INVALID_IMAGE', message: `${tar} already exists: a bundle never overwrites a file. Choose another name or remove it first.` } });
    const bad = await runCider(['bundle', 'export', 'Not A Reference', '-o', join(work, 'x.tar')], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cider: Invalid reference "Not A Reference"/);
  });

  it('stops an export on Ctrl-C (SIGINT): exit 1, a clear message, no tar and no .partial left', async () => {
    const interrupted = join(work, 'interrupted.tar');
    const proxied = `${proxy.host}/${reference.slice(host().length + 1)}`;
    // Blobs trickle at 4 MiB/s through the proxy, so the export is mid-way when Ctrl-C comes.
    proxy.setRule((r) => (r.method === 'GET' && r.path.includes('/blobs/sha256:') ? { kind: 'throttle', bytesPerSecond: 4 * MiB } : undefined));
    const servedBefore = proxy.blobBytesServed;
    try {
      const run = await runCider(['bundle', 'export', proxied, '-o', interrupted], {
        env,
        onStart: (child) => {
          const timer = setInterval(() => {
            if (proxy.blobBytesServed - servedBefore >= 2 * MiB) {
              clearInterval(timer);
              child.kill('SIGINT');
            }
          }, 20);
          child.once('exit', () => clearInterval(timer));
        },
      });
      expect(run.signal).toBeNull();
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('cider: Interrupted; nothing half-written was left behind.');
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(proxy.blobBytesServed - servedBefore).toBeLessThan(20 * MiB);
      expect((await readdir(work)).filter((name) => name.startsWith('interrupted.tar'))).toEqual([]);
    } finally {
      proxy.setRule(undefined);
    }
  });

  it('verifies a good bundle (exit 0) and names the bad blob of a damaged one (exit 1)', async () => {
    const good = await runCider(['--json', 'bundle', 'verify', tar], { env });
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ ok: true, blobs: 10, problems: [] });
    const damaged = join(work, 'damaged.tar');
    await rewriteTar(tar, damaged, (entry, data) => (entry.name === `blobs/sha256/${layers[3]!.slice(7)}` ? { data: Buffer.concat([data.subarray(0, 100), Buffer.from('x'), data.subarray(101)]) } : undefined));
    const run = await runCider(['bundle', 'verify', damaged], { env });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`bad  ${layers[3]}: does not match its digest: its ${3 * MiB + 3} bytes hash to sha256:[0-9a-f]{64}`));
    expect(lastLine(run.stdout)).toBe(`${damaged} is damaged: 1 problem`);
  });

  it('imports after a SIGKILL mid-way without sending a finished blob again, and ends with the same digests', async () => {
    const prefix = uniqueRepository('resumed');
    const target = `${proxy.host}/${prefix}`;
    const finished = () => proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/') && r.status === 201);
    // Each upload's closing PUT reaches the registry 300 ms late: the kill lands between two blobs' uploads.
    proxy.setRule((r) => (r.method === 'PUT' && r.path.includes('/blobs/uploads/') ? { kind: 'delay', ms: 300 } : undefined));
    proxy.requests.length = 0;
    const killed = await runCider(['bundle', 'import', tar, target], {
      env,
      onStart: (child) => {
        const timer = setInterval(() => {
          if (finished().length >= 3) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 20);
        child.once('exit', () => clearInterval(timer));
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    // A closing PUT can still be at the registry when the process dies (it may land, or not):
    // wait until the proxy is done with every request, then ask the registry what it holds.
    await waitFor('the proxy settling every request', async () => proxy.requests.every((r) => r.settledAt !== undefined), 10_000, 20);
    const repository = client.repository(host(), `${prefix}/${reference.slice(host().length + 1, reference.lastIndexOf(':'))}`);
    const held = await Promise.all(blobs.map(async (blob) => ((await repository.blobExists(blob)) ? blob : undefined)));
    const done = new Set(held.filter((blob) => blob !== undefined));
    expect(blobs).toHaveLength(9);
    for (const blob of finished().map((r) => new URL(r.path, 'http://x').searchParams.get('digest'))) expect(done).toContain(blob);
    expect(done.size).toBeGreaterThanOrEqual(3);
    expect(done.size).toBeLessThan(9);

    proxy.setRule(undefined);
    proxy.requests.length = 0;
    const resumed = await runCider(['--json', 'bundle', 'import', tar, target], { env });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const result = JSON.parse(resumed.stdout) as { uploaded: number; skipped: number; images: { reference: string; digest: string }[] };
    // No finished blob was sent again: no upload session opened for it, no closing PUT naming it.
    const sent = proxy.requests.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/')).map((r) => new URL(r.path, 'http://x').searchParams.get('digest'));
    for (const blob of done) expect(sent).not.toContain(blob);
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'))).toHaveLength(9 - done.size);
    expect(result.skipped).toBe(done.size);
    expect(result.uploaded).toBe(9 - done.size);
    expect(result.images).toEqual([{ refName: expect.any(String) as string, reference: `${target}/${reference.slice(host().length + 1)}`, digest }]);
    expect((await repository.fetchManifest('15.2')).descriptor.digest).toBe(digest);
  });

  it('imports a tar skopeo made (oci-archive:x.tar:<tag>) with the repository given as the prefix', async () => {
    const made = join(work, 'skopeo.tar');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${reference}`, `oci-archive:${made}:15.2`]);
    const bare = await runCider(['bundle', 'import', made, host()], { env });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('The bundle names an image only by the tag "15.2" (skopeo writes oci-archive names so)');
    const repository = uniqueRepository('from-skopeo');
    const run = await runCider(['bundle', 'import', made, `${host()}/${repository}`], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`imported ${host()}/${repository}:15.2  ${digest}`);
    expect((await client.repository(host(), repository).fetchManifest('15.2')).descriptor.digest).toBe(digest);
  });

  it('explains what to give when the target is not <registry>[/prefix]', async () => {
    const run = await runCider(['bundle', 'import', tar, 'http://127.0.0.1:5000'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('drop the scheme: give the registry as host[:port], optionally followed by a repository prefix');
  });

  it(
    'round-trips 1 GiB through cider and skopeo with flat memory: peak RSS of export, verify and import at most 150 MB',
    async () => {
      const figures = await bundleRoundTrip({ bytes: 1024 * MiB, skopeo: true });
      console.log(describeFigures(figures));
      expect(figures.importedDigest).toBe(figures.sourceDigest);
      expect(figures.skopeoDigest).toBe(figures.sourceDigest);
      for (const run of [figures.export, figures.verify, figures.import]) expect(run.peakRssMB).toBeLessThanOrEqual(150);
    },
    300_000,
  );
});
