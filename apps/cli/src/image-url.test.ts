// `cider image push <url>`, `cider image available` and `cider image fetch` as a publisher runs
// them (a real process), against the real registry and a web server on 127.0.0.1 that serves
// IPSWs by range, drops connections and serves a catalog in Apple's format. A push from a URL
// writes nothing to local disk: the child's TMPDIR and HOME are an empty folder that must stay
// empty. Its peak RSS (VmHWM) is printed for the docs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { digestFile, formatBytes, RegistryClient } from '@cider/oci';
import { makeAppleCatalog, makeSyntheticIpsw, startRangeServer, type RangeServer } from '@cider/oci/testing';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('./cider.ts', import.meta.url));
const MiB = 1024 * 1024;
/** Prints the process's peak RSS on exit (Linux), for the test to read. */
const reportPeak = `data:text/javascript,${encodeURIComponent('import { readFileSync } from "node:fs"; process.on("exit", () => { try { const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8")); if (m) process.stderr.write(`peak-rss-kib ${m[1]}\\n`); } catch {} });')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  peakRssMiB?: number;
}

function cider(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--import', reportPeak, entry, ...args], { cwd: root, env: { ...process.env, TSX_DISABLE_CACHE: '1', ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end();
    proc.on('exit', (code) => {
      const peak = /peak-rss-kib (\d+)/.exec(stderr);
      resolve({ code, stdout, stderr: stderr.replace(/peak-rss-kib \d+\n/, ''), peakRssMiB: peak ? Math.round(Number(peak[1]) / 1024) : undefined });
    });
  });
}

const lastLine = (text: string) => text.trim().split('\n').at(-1)!;

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
}

describe('cider image from a URL and from Apple\'s catalog (real process, real docker-registry, web server on 127.0.0.1)', () => {
  let work: string;
  let env: Record<string, string>;
  let server: RangeServer;
  const files: Record<string, string | Buffer> = {};
  let big: string;
  let small: string;
  let smallSha1: string;
  const host = () => inject('registryHost');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-image-url-'));
    env = { DOCKER_CONFIG: join(work, 'docker'), CIDER_SERVER: '', CIDER_TOKEN: '', CIDER_APPLE_CATALOG_URL: '' };
    await mkdir(join(work, 'big'));
    big = await makeSyntheticIpsw({ dir: join(work, 'big'), payloadBytes: 256 * MiB, name: 'UniversalMac_15.2_24C101_big_Restore.ipsw' });
    small = await makeSyntheticIpsw({ dir: work, payloadBytes: 6 * MiB });
    smallSha1 = createHash('sha1').update(await readFile(small)).digest('hex');
    const other = await makeSyntheticIpsw({ dir: work, payloadBytes: MiB, version: '15.1', build: '24B83' });
    files[`/ipsw/${basename(big)}`] = big;
    files[`/ipsw/${basename(small)}`] = small;
    files[`/ipsw/${basename(other)}`] = other;
    server = await startRangeServer({ files });
    files['/catalog.xml'] = Buffer.from(
      makeAppleCatalog(
        [
          { version: '15.2', build: '24C101', url: server.url(`/ipsw/${basename(small)}`), sha1: smallSha1 },
          // The catalog's SHA-1 for 15.1 is wrong: fetch must refuse it.
          { version: '15.1', build: '24B83', url: server.url(`/ipsw/${basename(other)}`), sha1: 'f'.repeat(40) },
          { version: '14.7.1', build: '23H222', url: server.url('/ipsw/missing.ipsw'), devices: ['Mac14,2'] },
        ],
        { malformed: true },
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await server.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pushes a few hundred MiB from a URL that drops twice: ranged resume, the same layer as the file, nothing written locally', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cider-empty-'));
    try {
      const { size } = await stat(big);
      const drops = [70 * MiB + 11, 190 * MiB];
      server.addFaults(drops.map((at) => ({ at, kind: 'drop' as const })));
      const before = server.bytesSent;
      const repository = `${host()}/${uniqueRepository('from-url')}`;
      const url = `${server.url(`/ipsw/${basename(big)}`)}?X-Signature=secret`;
      const { digest: fileDigest } = await digestFile(big);
      const run = await cider(['image', 'push', url, repository, '--sha256', fileDigest], { ...env, TMPDIR: empty, HOME: empty });
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.code, run.stderr).toBe(0);
      // The same push from the local file, for comparison: a URL must not cost memory that grows with the file.
      const local = await cider(['image', 'push', big, `${repository}-local`], env);
      expect(local.code, local.stderr).toBe(0);
      console.log(`cider image push of ${Math.round(size / MiB)} MiB: peak RSS ${run.peakRssMiB} MiB from a URL with ${drops.length} drops, ${local.peakRssMiB} MiB from the local file`);
      if (run.peakRssMiB !== undefined && local.peakRssMiB !== undefined) expect(run.peakRssMiB).toBeLessThan(local.peakRssMiB + 48);
      expect(run.stdout).toContain(`pushed ${repository}:15.2\npushed ${repository}:15.2-24C101\n`);
      const sent = server.bytesSent - before;
      expect(sent).toBeGreaterThanOrEqual(size);
      expect(sent).toBeLessThan(size + drops.length * 4 * MiB + MiB);
      expect(await filesUnder(empty)).toEqual([]);

      const client = new RegistryClient();
      try {
        const fetched = await client.repositoryOf(`${repository}:15.2`).fetchManifest('15.2');
        expect(fetched.descriptor.digest).toBe(lastLine(run.stdout));
        const manifest = fetched.manifest as { layers: { digest: string; size: number }[]; annotations?: Record<string, string> };
        expect(manifest.layers.map((l) => [l.digest, l.size])).toEqual([[fileDigest, size]]);
        expect(manifest.annotations?.['org.opencontainers.image.source']).toBe(server.url(`/ipsw/${basename(big)}`));
      } finally {
        await client.close();
      }
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }, 300_000);

  it('shows what an IPSW at a URL is, and explains a wrong --sha1 without tagging anything', async () => {
    const url = server.url(`/ipsw/${basename(small)}`);
    const info = await cider(['image', 'info', url], env);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/^macOS 15\.2 \(24C101\) arm64\n/);
    const repository = `${host()}/${uniqueRepository('mismatch')}`;
    const run = await cider(['image', 'push', url, repository, '--sha1', '0'.repeat(40)], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`expected sha1:${'0'.repeat(40)}, got sha1:${smallSha1}`);
    expect((await cider(['tags', repository], env)).stdout).not.toContain('15.2');
    const bad = await cider(['image', 'push', url, repository, '--sha256', 'xyz'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--sha256 "xyz" is not a SHA256 digest (64 hex digits)');
  }, 120_000);

  it('lists the catalog newest first, as a table and as JSON, with sizes asked of each URL on request', async () => {
    const run = await cider(['image', 'available', '--catalog', server.url('/catalog.xml')], env);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^VERSION\s+BUILD\s+URL$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['15.2 24C101', '15.1 24B83', '14.7.1 23H222']);
    const json = JSON.parse((await cider(['--json', 'image', 'available'], { ...env, CIDER_APPLE_CATALOG_URL: server.url('/catalog.xml') })).stdout) as { build: string; sha1?: string }[];
    expect(json.map((i) => i.build)).toEqual(['24C101', '24B83', '23H222']);
    expect(json[0]!.sha1).toBe(smallSha1);

    // --sizes asks each URL (one small request each); one that does not answer says why.
    const before = server.requests.length;
    const sized = await cider(['image', 'available', '--sizes', '--catalog', server.url('/catalog.xml')], env);
    expect(sized.code).toBe(0);
    const rows = sized.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^VERSION\s+BUILD\s+SIZE\s+URL$/);
    const otherPath = Object.entries(files).find(([path]) => path.includes('24B83'))![1] as string;
    expect(rows.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3).join(' | '))).toEqual([`15.2 | 24C101 | ${formatBytes((await stat(small)).size)}`, `15.1 | 24B83 | ${formatBytes((await stat(otherPath)).size)}`, '14.7.1 | 23H222 | -']);
    expect(sized.stderr).toMatch(/^23H222: .*missing\.ipsw.*404/m);
    // The catalog, then one request per image (no retry for a 404), and no byte of the images past the first.
    expect(server.requests.length - before).toBe(4);
    const sizedJson = JSON.parse((await cider(['--json', 'image', 'available', '--sizes', '--catalog', server.url('/catalog.xml')], env)).stdout) as { build: string; size?: number; error?: string }[];
    expect(sizedJson.map((i) => [i.build, i.size])).toEqual([['24C101', (await stat(small)).size], ['24B83', (await stat(otherPath)).size], ['23H222', undefined]]);
    expect(sizedJson[2]!.error).toContain('404');
  });

  it('fetch: --macos and --build in a dry run, an unknown version listing what exists', async () => {
    const catalog = ['--catalog', server.url('/catalog.xml')];
    const repository = `${host()}/${uniqueRepository('fetch')}`;
    const byVersion = await cider(['image', 'fetch', repository, '--macos', '15', '--dry-run', ...catalog], env);
    expect(byVersion.code).toBe(0);
    expect(byVersion.stdout).toContain('macOS 15.2 (24C101)');
    expect(byVersion.stdout).toContain(`size     ${formatBytes((await stat(small)).size)}`);
    expect(byVersion.stdout).toContain(`dry run: nothing pushed to ${repository}`);
    const byBuild = await cider(['image', 'fetch', repository, '--build', '24B83', '--dry-run', ...catalog], env);
    expect(byBuild.stdout).toContain('macOS 15.1 (24B83)');
    const unknown = await cider(['image', 'fetch', repository, '--macos', '13.0', ...catalog], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('cider: The restore-image catalog has no macOS 13.0. It has: 15.2 (24C101), 15.1 (24B83), 14.7.1 (23H222)');
    const none = await cider(['image', 'fetch', repository, ...catalog], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('exactly one of --macos <version>, --build <build> or --latest');
  });

  it('fetch --latest pushes the newest image from its URL with the catalog\'s SHA-1 checked; a wrong SHA-1 in the catalog tags nothing', async () => {
    const catalog = ['--catalog', server.url('/catalog.xml')];
    const repository = `${host()}/${uniqueRepository('fetch')}`;
    const run = await cider(['image', 'fetch', repository, '--latest', ...catalog], env);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`sha1     ${smallSha1}`);
    expect(run.stdout).toContain(`pushed ${repository}:15.2\npushed ${repository}:15.2-24C101\n`);
    const wrong = await cider(['image', 'fetch', repository, '--macos', '15.1', ...catalog], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`expected sha1:${'f'.repeat(40)}, got sha1:`);
    const tags = await cider(['tags', repository], env);
    expect(tags.stdout).toContain('15.2');
    expect(tags.stdout).not.toContain('15.1');
    // The tag policy applies to a URL as to a file: refused before the payload is read.
    const before = server.bytesSent;
    const again = await cider(['image', 'push', server.url(`/ipsw/${basename(small)}`), repository, '--immutable-tags'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Tag "15.2" already exists');
    expect(server.bytesSent - before).toBeLessThan(MiB);
  }, 120_000);
});
