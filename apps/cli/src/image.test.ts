// `cider image` as a publisher runs it (a real process), against the real registry: IPSWs pushed
// with their facts, other OS images imported per platform and combined in one index that pulls as
// each platform, attachments listed as referrers, and bad input explained without a stack.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertValidOci, makeSyntheticIpsw, writeRandomFile } from '@cider/oci/testing';
import { createServiceDeps } from '@cider/api';
import { createRestHandler } from '@cider/api/rest';
import { createApiToken, createUser } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { serveFetchHandler, uniqueRepository, useRedisPrefix, type ServedHandler } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseSize } from './commands/image.ts';
import { fetchTagPolicy } from './fleet.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = fileURLToPath(new URL('./cider.ts', import.meta.url));
const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cider(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end();
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastLine = (text: string) => text.trim().split('\n').at(-1)!;
const noStack = (run: Run) => expect(run.stderr).not.toMatch(/\n\s+at /);

describe('cider image (real process, real docker-registry)', () => {
  let work: string;
  let env: Record<string, string>;
  let ipsw: string;
  const host = () => inject('registryHost');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-image-cli-'));
    env = { DOCKER_CONFIG: join(work, 'docker'), CIDER_SERVER: '', CIDER_TOKEN: '' };
    ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 3 * MiB });
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('shows what an IPSW is without pushing it', async () => {
    const run = await cider(['image', 'info', ipsw], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^macOS 15\.2 \(24C101\) arm64\n/);
    expect(run.stdout).toMatch(/devices {2}Mac13,1, Mac14,2, Mac14,7, Mac15,3, VirtualMac2,1/);
    const json = JSON.parse((await cider(['--json', 'image', 'info', ipsw], env)).stdout);
    expect(json).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64' });
  });

  it('pushes an IPSW under <version> and <version>-<build>, prints the digest last, and pulls it', async () => {
    const repository = `${host()}/${uniqueRepository('macos')}`;
    const run = await cider(['image', 'push', ipsw, repository, '--source', 'https://example.com/restore.ipsw'], env);
    noStack(run);
    expect(run.code).toBe(0);
    const digest = lastLine(run.stdout);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.stdout).toContain(`pushed ${repository}:15.2\npushed ${repository}:15.2-24C101\n`);

    const tags = await cider(['tags', repository], env);
    expect(tags.stdout.trim().split('\n').sort()).toEqual(['15.2', '15.2-24C101']);
    const pulled = await cider(['pull', `${repository}:15.2-24C101`, '--cache', join(work, 'cache-ipsw'), '--platform', 'darwin/arm64'], env);
    expect(pulled.code).toBe(0);
    expect(lastLine(pulled.stdout)).toBe(digest);
    const imageDir = pulled.stdout.trim().split('\n')[0]!;
    expect((await readFile(join(imageDir, 'UniversalMac_15.2_24C101_Restore.ipsw'))).equals(await readFile(ipsw))).toBe(true);
    const record = JSON.parse(await readFile(join(imageDir, 'image.json'), 'utf8'));
    expect(record.config).toMatchObject({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64' });
  });

  it('imports two platforms, joins them in one index, and pulls each platform from the one tag', async () => {
    const repository = `${host()}/${uniqueRepository('linux')}`;
    const digests: Record<string, string> = {};
    for (const arch of ['amd64', 'arm64']) {
      const kernel = join(work, `vmlinuz-${arch}`);
      const initramfs = join(work, `initrd-${arch}`);
      const cmdline = join(work, `cmdline-${arch}`);
      await writeRandomFile(kernel, 700 * 1024);
      await writeRandomFile(initramfs, 2 * MiB);
      await writeFile(cmdline, 'console=ttyS0 root=/dev/vda\n');
      const run = await cider(['image', 'import', `${repository}:1592-${arch}`, '--platform', `linux/${arch}`, '--os-version', '1592', '--kernel', kernel, '--initramfs', initramfs, '--cmdline', cmdline], env);
      noStack(run);
      expect(run.code).toBe(0);
      digests[arch] = lastLine(run.stdout);
    }
    const index = await cider(['--json', 'image', 'index', `${repository}:1592`, `${repository}:1592-amd64`, `${repository}:1592-arm64`], env);
    expect(index.code).toBe(0);
    const result = JSON.parse(index.stdout);
    assertValidOci('index', result.index);
    expect(result.index.manifests.map((m: { platform: unknown }) => m.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    for (const arch of ['amd64', 'arm64']) {
      const pulled = await cider(['--json', 'pull', `${repository}:1592`, '--cache', join(work, `cache-${arch}`), '--platform', `linux/${arch}`], env);
      const pull = JSON.parse(pulled.stdout);
      expect(pull.manifestDigest).toBe(digests[arch]);
      expect(pull.digest).toBe(result.digest);
      expect(await readFile(join(pull.imagePath, `cmdline-${arch}`), 'utf8')).toBe('console=ttyS0 root=/dev/vda\n');
    }
    const wrong = await cider(['pull', `${repository}:1592`, '--cache', join(work, 'cache-x'), '--platform', 'windows/amd64'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/No image for platform windows\/amd64 in this index \(available: linux\/amd64, linux\/arm64\)/);
  });

  it('attaches an SBOM and release notes and lists them as referrers', async () => {
    const repository = `${host()}/${uniqueRepository('attach')}`;
    const pushed = await cider(['image', 'push', ipsw, repository, '--tag', '15.2'], env);
    const subject = lastLine(pushed.stdout);
    const sbom = join(work, 'sbom.spdx.json');
    await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'macOS 15.2' }));
    const notes = join(work, 'notes.md');
    await writeFile(notes, '# macOS 15.2\n');
    const attached = await cider(['image', 'attach', `${repository}:15.2`, sbom, '--artifact-type', 'application/spdx+json', '--media-type', 'application/spdx+json'], env);
    noStack(attached);
    expect(attached.code).toBe(0);
    expect(attached.stdout).toContain(`attached ${sbom} to ${subject}: listed under the referrers tag`);
    const sbomDigest = lastLine(attached.stdout);
    expect((await cider(['image', 'attach', `${repository}@${subject}`, notes, '--artifact-type', 'text/markdown'], env)).code).toBe(0);

    const listed = await cider(['--json', 'image', 'referrers', `${repository}:15.2`], env);
    const referrers = JSON.parse(listed.stdout).referrers as { digest: string; artifactType: string; annotations: Record<string, string> }[];
    expect(referrers.map((r) => r.artifactType).sort()).toEqual(['application/spdx+json', 'text/markdown']);
    expect(referrers.find((r) => r.artifactType === 'application/spdx+json')).toMatchObject({ digest: sbomDigest, annotations: { 'org.opencontainers.image.title': 'sbom.spdx.json' } });
    const filtered = await cider(['image', 'referrers', `${repository}:15.2`, '--artifact-type', 'text/markdown'], env);
    expect(filtered.stdout.trim().split('\n')).toHaveLength(1);
    expect(filtered.stdout).toMatch(/text\/markdown .*notes\.md/);
    const badType = await cider(['image', 'attach', `${repository}:15.2`, notes, '--artifact-type', 'notes'], env);
    expect(badType.code).toBe(1);
    expect(badType.stderr).toMatch(/--artifact-type "notes" is not a media type/);
  });

  it('explains a truncated IPSW, a non-IPSW, a moved immutable tag and a bad size, without a stack', async () => {
    const repository = `${host()}/${uniqueRepository('bad')}`;
    const cut = join(work, 'cut.ipsw');
    await writeFile(cut, await readFile(ipsw));
    await truncate(cut, 1024 * 1024);
    const truncated = await cider(['image', 'push', cut, repository], env);
    noStack(truncated);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/^cider: cut\.ipsw is not a usable IPSW: .*(truncated|not a zip archive)/);
    const text = join(work, 'README.txt');
    await writeFile(text, 'hello');
    const notZip = await cider(['image', 'push', text, repository], env);
    expect(notZip.code).toBe(2);
    expect(notZip.stderr).toMatch(/README\.txt is not a usable IPSW: it is not a zip archive/);

    expect((await cider(['image', 'push', ipsw, repository], env)).code).toBe(0);
    const again = await cider(['image', 'push', ipsw, repository, '--immutable-tags'], env);
    noStack(again);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/Tag "15\.2" already exists .* immutable tags: nothing was pushed/);
    const size = await cider(['image', 'push', ipsw, repository, '--chunk-size', 'lots'], env);
    expect(size.stderr).toMatch(/"lots" is not a size/);
    const noFiles = await cider(['image', 'import', `${repository}:x`, '--platform', 'linux/amd64'], env);
    expect(noFiles.stderr).toMatch(/Nothing to import: give at least one file with --disk, --kernel/);
  });

  it('parses sizes', () => {
    expect(parseSize('8GiB')).toBe(8 * 1024 ** 3);
    expect(parseSize('10GB')).toBe(10e9);
    expect(parseSize('1048576')).toBe(MiB);
    expect(() => parseSize('-1')).toThrow(/not a size/);
  });
});

describe('tag policy from the Cider Fleet server (the real tRPC endpoint, PostgreSQL, Redis)', () => {
  const database = useTestDatabase();
  const redis = useRedisPrefix();
  let services: ReturnType<typeof createServiceDeps>;
  let server: ServedHandler | undefined;
  let url: string;
  let goodToken: string;
  const seen: { url: string; authorization?: string }[] = [];

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const { deps, hub } = services;
    const admin = await createUser(deps, { email: 'cli@fleet.test', name: 'CLI', password: 'a long enough password', role: 'admin' });
    ({ token: goodToken } = await createApiToken(deps, { userId: admin.id, label: 'cli@fleet.test' }, { userId: admin.id, name: 'cli' }));
    await deps.db.registry.create({ data: { name: 'Locked', host: 'locked.example.com', immutableTags: true } });
    // The REST API v1 handler, served over HTTP as web mounts it.
    const handle = createRestHandler({ basePath: '/api/v1', services: () => ({ deps, hub }), trustedProxyHops: 0 });
    server = await serveFetchHandler(handle, { onRequest: (req) => seen.push({ url: req.url ?? '', authorization: req.headers.authorization }) });
    url = server.url;
  });
  afterAll(async () => {
    await server?.close();
    await services?.close();
  });

  it('asks with the API token and reads the answer', async () => {
    expect(await fetchTagPolicy(url, 'locked.example.com', goodToken)).toEqual({ immutableTags: true, registry: 'Locked' });
    expect(await fetchTagPolicy(url, 'open.example.com', goodToken)).toEqual({ immutableTags: false });
    expect(seen.at(-1)).toMatchObject({ authorization: `Bearer ${goodToken}` });
    expect(seen.at(-1)!.url).toBe('/api/v1/tag-policy?host=open.example.com');
  });

  it('refuses to guess: no token, a refused token, a server error or no server stop the push', async () => {
    await expect(fetchTagPolicy(url, 'x', '')).rejects.toThrow(/set CIDER_TOKEN to an API token/);
    await expect(fetchTagPolicy(url, 'x', 'cat_unknown')).rejects.toThrow(/refused CIDER_TOKEN \(HTTP 401\).*Nothing was pushed/);
    await expect(fetchTagPolicy(url, 'not a host/with/a path', goodToken)).rejects.toThrow(/did not answer the tag policy question \(HTTP 400.*Nothing was pushed/);
    await expect(fetchTagPolicy('http://127.0.0.1:9', 'x', goodToken)).rejects.toThrow(/Cannot reach Cider Fleet at http:\/\/127\.0\.0\.1:9/);
  });
});
