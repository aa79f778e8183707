// The `cider` command as a user runs it (a real process), against a real registry.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostCache } from '@cider/oci';
import { writeHtpasswd, writeRandomFile } from '@cider/oci/testing';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { uniqueRepository } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('./cider.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cider(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(options.stdin ?? '');
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLine = (text: string) => text.trim().split('\n').at(-1);

describe('cider CLI (real process, real docker-registry)', () => {
  let work: string;
  let file: string;
  const repository = uniqueRepository('cli');
  let reference: string;
  let pushedDigest: string;
  // No credentials from the developer's own docker config leak into these runs.
  let env: Record<string, string>;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-cli-'));
    file = join(work, 'UniversalMac_15.2_24C101_Restore.ipsw');
    await writeRandomFile(file, 3 * 1024 * 1024 + 5);
    reference = `${inject('registryHost')}/${repository}:15.2`;
    env = { DOCKER_CONFIG: join(work, 'docker') };
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('pushes an artifact and prints its manifest digest last', async () => {
    const run = await cider(['push', reference, file, '--artifact-type', 'application/vnd.cider.image.v1', '--media-type', 'application/vnd.cider.ipsw', '--annotation', 'org.opencontainers.image.version=15.2'], { env });
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    pushedDigest = lastLine(run.stdout)!;
    expect(pushedDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('pulls into a cache, printing the digest last and plain progress lines when not on a terminal', async () => {
    const cache = join(work, 'cache');
    const run = await cider(['pull', reference, '--cache', cache], { env });
    expect(run.code).toBe(0);
    expect(lastLine(run.stdout)).toBe(pushedDigest);
    expect(run.stderr).toMatch(/pull: .* \/ 3\.0 MiB \(100%\)/);

    const json = await cider(['--json', 'pull', reference, '--cache', cache], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ digest: pushedDigest, bytesFetched: 0 });

    const ls = await cider(['cache', 'ls', '--cache', cache], { env });
    expect(ls.stdout).toMatch(new RegExp(`${reference.replace(/[.]/g, '\\.')}\\s+15\\.2\\s+${pushedDigest.slice(0, 19)}\\s+3\\.0 MiB`));

    const fsck = await cider(['cache', 'fsck', '--cache', cache], { env });
    expect(fsck.code).toBe(0);
    expect(fsck.stdout).toMatch(/cache is consistent/);
  });

  it('finds a corrupted blob with fsck, quarantines it, and exits non-zero', async () => {
    const cacheDir = join(work, 'cache-corrupt');
    expect((await cider(['pull', reference, '--cache', cacheDir], { env })).code).toBe(0);
    const cache = await HostCache.open(cacheDir);
    const images = await cache.listImages();
    const record = await cache.readImageRecord(images[0]!.digest);
    const payload = cache.blobPath(record!.files[0]!.digest);
    await chmod(payload, 0o644);
    const bytes = await readFile(payload);
    bytes[100] = bytes[100]! ^ 1;
    await writeFile(payload, bytes);

    const fsck = await cider(['cache', 'fsck', '--cache', cacheDir], { env });
    expect(fsck.code).toBe(1);
    expect(fsck.stdout).toMatch(/BAD sha256:[0-9a-f]{64}: content hashes to sha256:/);
    expect(fsck.stdout).toMatch(/problems found/);
    expect(await cache.hasBlob(record!.files[0]!.digest)).toBe(false);
  });

  it('prunes what nothing references, never a held image', async () => {
    const cacheDir = join(work, 'cache-prune');
    expect((await cider(['pull', reference, '--cache', cacheDir], { env })).code).toBe(0);
    const kept = await cider(['cache', 'prune', '--cache', cacheDir], { env });
    expect(kept.stdout.trim()).toBe('freed 0 B');
    const cache = await HostCache.open(cacheDir);
    await cache.removeFromIndex(pushedDigest as `sha256:${string}`);
    const pruned = await cider(['--json', 'cache', 'prune', '--cache', cacheDir], { env });
    const report = JSON.parse(pruned.stdout) as { removedBlobs: unknown[]; removedImages: unknown[] };
    expect(report.removedBlobs).toHaveLength(3); // manifest, config, payload
    expect(report.removedImages).toHaveLength(1);
  });

  it('lists tags and inspects a manifest', async () => {
    const tags = await cider(['tags', `${inject('registryHost')}/${repository}`], { env });
    expect(tags.stdout.trim().split('\n')).toContain('15.2');
    const inspect = await cider(['inspect', reference], { env });
    expect(inspect.stdout).toContain(`Digest:     ${pushedDigest}`);
    expect(inspect.stdout).toMatch(/UniversalMac_15\.2_24C101_Restore\.ipsw\s+3\.0 MiB\s+application\/vnd\.cider\.ipsw/);
  });

  it('explains bad input without a stack trace', async () => {
    const bad = await cider(['pull', `${inject('registryHost')}/Bad/Name:1`, '--cache', join(work, 'x')], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cider: Invalid reference ".*": "Bad" is not a valid repository path component \(repository names must be lowercase\)\n$/);
    const missing = await cider(['pull', `${inject('registryHost')}/${repository}:nope`, '--cache', join(work, 'x')], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cider: Tag "nope" not found in .*\n$/);
  });

  describe('login and logout against a registry that needs a password', () => {
    let registry: RunningRegistry;
    beforeAll(async () => {
      const htpasswd = join(work, 'htpasswd');
      await writeHtpasswd(htpasswd, { alice: 'wonderland' });
      registry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile: htpasswd } });
    });
    afterAll(async () => {
      await registry.stop();
    });

    it('refuses a wrong password and stores nothing; stores a right one (0600) and logs out', async () => {
      const docker = join(work, 'docker-login');
      const loginEnv = { DOCKER_CONFIG: docker };
      const wrong = await cider(['login', registry.host, '-u', 'alice', '--password-stdin'], { env: loginEnv, stdin: 'nope\n' });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/rejected the credentials for user "alice"/);
      await expect(stat(join(docker, 'config.json'))).rejects.toThrow();

      const right = await cider(['login', registry.host, '-u', 'alice', '--password-stdin'], { env: loginEnv, stdin: 'wonderland\n' });
      expect(right.code).toBe(0);
      expect((await stat(join(docker, 'config.json'))).mode & 0o777).toBe(0o600);
      const pushed = await cider(['push', `${registry.host}/private/img:1`, file], { env: loginEnv });
      expect(pushed.code).toBe(0);

      const out = await cider(['logout', registry.host], { env: loginEnv });
      expect(out.code).toBe(0);
      const anonymous = await cider(['tags', `${registry.host}/private/img`], { env: loginEnv });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(/requires a username and password/);
    });
  });
});
