// `cider fleet` as a pipeline runs it (a real process) against the real REST API v1 handler served
// on 127.0.0.1, with real PostgreSQL, Redis and docker-registry: login, the lists as tables and
// JSON, pinning a pushed image, and waiting for a rollout that converges (node_images rows written
// as an agent's inventory would) or fails (a failed sync job), named on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServiceDeps } from '@cider/api';
import { createRestHandler } from '@cider/api/rest';
import { createApiToken, createUser } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';
import { serveFetchHandler, uniqueRepository, useRedisPrefix, type ServedHandler } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const entry = fileURLToPath(new URL('../../cider.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string>, stdin = ''): { proc: ChildProcess; done: Promise<Run>; stderr: () => string } {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin!.end(stdin);
  const done = new Promise<Run>((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { proc, done, stderr: () => stderr };
}
const noStack = (run: Run) => expect(run.stderr).not.toMatch(/\n\s+at /);

describe('cider fleet (real process, real REST handler, PostgreSQL, Redis, docker-registry)', () => {
  const database = useTestDatabase();
  const redis = useRedisPrefix();
  let services: ReturnType<typeof createServiceDeps>;
  let server: ServedHandler | undefined;
  let url: string;
  let work: string;
  let adminToken: string;
  let viewerToken: string;
  let reference: string;
  let pushedDigest: string;
  const pool = `cli-${randomBytes(3).toString('hex')}`;
  const nodeIds: Record<string, string> = {};
  /** The environment of a run with the admin's token and no login file of the developer's. */
  let env: Record<string, string>;
  const db = () => services.deps.db;
  const cider = (args: string[], extra: Record<string, string> = {}, stdin = '') => start(args, { ...env, ...extra }, stdin).done;

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const { deps, hub } = services;
    work = await mkdtemp(join(tmpdir(), 'cider-fleet-cli-'));

    const admin = await createUser(deps, { email: 'fleet-admin@fleet.test', name: 'Admin', password: 'a long enough password', role: 'admin' });
    ({ token: adminToken } = await createApiToken(deps, { userId: admin.id, label: 'fleet-admin@fleet.test' }, { userId: admin.id, name: 'ci' }));
    const viewer = await createUser(deps, { email: 'fleet-viewer@fleet.test', name: 'Viewer', password: 'a long enough password', role: 'viewer' });
    ({ token: viewerToken } = await createApiToken(deps, { userId: viewer.id, label: 'fleet-viewer@fleet.test' }, { userId: viewer.id, name: 'look' }));

    const registryHost = inject('registryHost');
    reference = `${registryHost}/${uniqueRepository('fleet-cli')}:15.2`;
    const payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 64 * 1024);
    const pusher = new RegistryClient();
    try {
      pushedDigest = (await pushArtifact({ client: pusher, reference, files: [{ path: payload }] })).digest;
    } finally {
      await pusher.close();
    }
    await deps.db.registry.create({ data: { name: 'run registry', host: registryHost, plainHttp: true } });
    const team = await deps.db.team.create({ data: { name: 'Platform' } });
    await deps.db.project.create({ data: { name: 'ci-macs', teamId: team.id, nodeSelector: { pool } } });
    await deps.db.project.create({ data: { name: 'spare', teamId: team.id, nodeSelector: { pool: 'nowhere' } } });
    for (const name of ['mac-a', 'mac-b']) {
      const node = await deps.db.node.create({ data: { name, secretHash: 'x'.repeat(64), labels: { pool }, state: 'online', lastSeenAt: new Date(), agentVersion: '1.0.0' } });
      nodeIds[name] = node.id;
    }
    await deps.db.node.create({ data: { name: 'mac-idle', secretHash: 'x'.repeat(64), labels: { pool: 'other' } } });

    // The REST handler as apps/web mounts it at /api/v1.
    const handle = createRestHandler({ basePath: '/api/v1', services: () => ({ deps, hub }), trustedProxyHops: 0 });
    server = await serveFetchHandler(handle);
    url = server.url;
    env = { CIDER_SERVER: url, CIDER_TOKEN: adminToken, XDG_CONFIG_HOME: join(work, 'no-config') };
  });
  afterAll(async () => {
    await server?.close();
    await services?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('logs in only with a token the server accepts, storing it 0600 and never printing it; logs out', async () => {
    const config = join(work, 'config');
    const file = join(config, 'cider', 'fleet.json');
    const loginEnv = { XDG_CONFIG_HOME: config, CIDER_SERVER: '', CIDER_TOKEN: '' };

    const wrong = await cider(['fleet', 'login', url, '--token-stdin'], loginEnv, 'cat_not_a_real_token\n');
    noStack(wrong);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/refused the token .*run cider fleet login or set CIDER_TOKEN/);
    await expect(stat(file)).rejects.toThrow(/ENOENT/);

    const right = await cider(['fleet', 'login', url, '--token-stdin'], loginEnv, `${adminToken}\n`);
    expect(right.code).toBe(0);
    expect(right.stdout).toMatch(/^Logged in to http:\/\/127\.0\.0\.1:\d+\/ as fleet-admin@fleet\.test \(admin(, token expires \d{4}-\d\d-\d\d)?\); stored in .*fleet\.json\.\n$/);
    expect(right.stdout + right.stderr).not.toContain(adminToken);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ server: `${url}/`, token: adminToken });

    // Later commands find server and token in the file alone.
    const listed = await cider(['fleet', 'projects', 'ls'], loginEnv);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+TEAM\s+NODES\s+PINS\nci-macs\s+Platform/);
    // The stored token is not sent to another server.
    const elsewhere = await cider(['fleet', 'projects', 'ls', '--server', 'http://127.0.0.1:9'], loginEnv);
    expect(elsewhere.code).toBe(3);
    expect(elsewhere.stderr).toMatch(/No API token for http:\/\/127\.0\.0\.1:9\/ \(the login in .* is for/);

    const out = await cider(['fleet', 'logout'], loginEnv);
    expect(out.stdout).toContain(`Logged out: removed ${file}.`);
    const after = await cider(['fleet', 'projects', 'ls'], loginEnv);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/No Cider Fleet server given/);
  });

  it('lists projects and nodes as tables and as the API\'s JSON, filtered and cut at --limit', async () => {
    const projects = JSON.parse((await cider(['--json', 'fleet', 'projects', 'ls'])).stdout);
    expect(projects.items.map((p: { name: string }) => p.name)).toEqual(['ci-macs', 'spare']);
    expect(projects.nextCursor).toBeNull();
    const one = await cider(['fleet', 'projects', 'ls', '--limit', '1']);
    expect(one.stdout).toMatch(/^NAME .*\nci-macs .*\n\(more projects than the 1 shown: raise --limit or filter\)\n$/);

    const nodes = await cider(['fleet', 'nodes', 'ls', '--label', `pool=${pool}`]);
    expect(nodes.code).toBe(0);
    expect(nodes.stdout).toMatch(/^NAME\s+STATUS\s+SYNC\s+IMAGES\s+CACHE\s+DISK FREE\s+LAST SEEN\s+LABELS\nmac-a\s+online\s+in-sync \(0\/0\)\s+0\s+0 B\s+-\s+just now\s+pool=cli-/);
    expect(nodes.stdout).not.toContain('mac-idle');
    const offline = JSON.parse((await cider(['fleet', 'nodes', 'ls', '--state', 'offline', '--json'])).stdout);
    expect(offline.items.map((n: { name: string }) => n.name)).toEqual(['mac-idle']);
    const bad = await cider(['fleet', 'nodes', 'ls', '--state', 'asleep']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--state asleep: use online, offline, revoked/);

    const show = await cider(['fleet', 'nodes', 'show', 'MAC-A']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^Name: {7}mac-a\n/);
    expect(show.stdout).toContain('No images in its cache.');
    const missing = await cider(['fleet', 'nodes', 'show', 'mac-zzz']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cider: .*mac-zzz.*\n$/);
  });

  it('pins a pushed tag, shows it, and reports the rollout in progress; a viewer may not pin', async () => {
    const viewer = await cider(['fleet', 'pins', 'set', 'ci-macs', reference], { CIDER_TOKEN: viewerToken });
    expect(viewer.code).toBe(3);
    expect(viewer.stderr).toMatch(/^cider: Not allowed: /);

    const set = await cider(['--json', 'fleet', 'pins', 'set', 'ci-macs', reference, '--mode', 'frozen']);
    noStack(set);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ reference, mode: 'frozen', digest: pushedDigest });

    const pins = await cider(['fleet', 'pins', 'ls', 'ci-macs']);
    expect(pins.stdout).toMatch(new RegExp(`^ID\\s+REFERENCE\\s+MODE\\s+DIGEST\\s+RESOLVED\\n[0-9a-f-]{36}\\s+${reference.replace(/[.]/g, '\\.')}\\s+frozen\\s+${pushedDigest.slice(0, 19)}\\s+just now\\n$`));

    const status = await cider(['fleet', 'rollout', 'status', 'ci-macs']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^ci-macs: in-progress, 0\/2 nodes in sync/);
    const json = JSON.parse((await cider(['fleet', 'rollout', 'status', 'ci-macs', '--json'])).stdout);
    expect(json).toMatchObject({ project: { name: 'ci-macs' }, state: 'in-progress', serving: 2, inSync: 0 });

    const timedOut = await cider(['fleet', 'rollout', 'status', 'ci-macs', '--wait', '--timeout', '1s']);
    expect(timedOut.code).toBe(5);
    expect(timedOut.stderr).toMatch(/did not converge within 1 s: ci-macs: in-progress/);
  });

  it('waits until every node holds the pinned digest, printing a line per change, and exits 0', async () => {
    const waiting = start(['fleet', 'rollout', 'status', 'ci-macs', '--wait'], env);
    // Once the waiter has seen both nodes missing the image, they report it as an agent's inventory would.
    await new Promise<void>((resolve) => {
      const check = () => (/mac-a: queued/.test(waiting.stderr()) && /mac-b: queued/.test(waiting.stderr()) ? resolve() : setTimeout(check, 50));
      check();
    });
    for (const name of ['mac-a', 'mac-b']) {
      await db().nodeImage.create({ data: { nodeId: nodeIds[name]!, digest: pushedDigest, reference, size: 64n * 1024n, verifiedAt: new Date() } });
    }
    const run = await waiting.done;
    noStack(run);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^ci-macs: in-progress, 0\/2 nodes in sync/m);
    expect(run.stderr).toMatch(/^ci-macs: converged, 2\/2 nodes in sync/m);
    expect(run.stdout).toMatch(/^ci-macs: converged, 2\/2 nodes in sync/);
  });

  it('exits 4 naming the failed node and its error; the failed job can be listed and retried', async () => {
    await db().nodeImage.delete({ where: { nodeId_digest: { nodeId: nodeIds['mac-b']!, digest: pushedDigest } } });
    const job = await db().syncJob.create({
      data: { key: `sync:${nodeIds['mac-b']}:${pushedDigest}`, nodeId: nodeIds['mac-b']!, digest: pushedDigest, reference, state: 'failed', error: 'disk full: needs 64 KiB more', attempts: 3, finishedAt: new Date() },
    });
    const run = await cider(['fleet', 'pins', 'set', 'ci-macs', reference, '--mode', 'frozen', '--wait']);
    noStack(run);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/Rollout of ci-macs failed on 1 node\(s\):\n {2}mac-b: .*: disk full: needs 64 KiB more\n/);
    const json = await cider(['--json', 'fleet', 'rollout', 'status', 'ci-macs', '--wait']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'ROLLOUT_FAILED', detail: { state: 'failing', failures: [{ nodeName: 'mac-b' }] } });

    const jobs = await cider(['fleet', 'jobs', 'ls', '--state', 'failed', '--node', 'mac-b']);
    expect(jobs.stdout).toMatch(new RegExp(`^ID .*\\n${job.id}\\s+mac-b\\s+.*\\s+failed\\s+.*disk full`));
    const retried = await cider(['fleet', 'jobs', 'retry', job.id]);
    noStack(retried);
    expect(retried.code).toBe(0);
    const cancelled = await cider(['fleet', 'jobs', 'cancel', job.id]);
    expect(cancelled.code).not.toBe(0);
    expect(cancelled.stderr).toMatch(/^cider: /);
  });

  it('unpins by reference with If-Match, and revokes a node only when confirmed', async () => {
    const rmUnknown = await cider(['fleet', 'pins', 'rm', 'ci-macs', 'nope:1']);
    expect(rmUnknown.code).toBe(1);
    expect(rmUnknown.stderr).toMatch(/has no pin nope:1 \(its pins: .*:15\.2\)/);
    const removed = await cider(['fleet', 'pins', 'rm', 'ci-macs', reference]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`Unpinned ${reference} from ci-macs.\n`);
    expect((await cider(['fleet', 'pins', 'ls', 'ci-macs'])).stdout).toBe('No pins.\n');

    const unconfirmed = await cider(['fleet', 'nodes', 'revoke', 'mac-b']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/add --yes/);
    expect((await db().node.findUniqueOrThrow({ where: { id: nodeIds['mac-b']! } })).revokedAt).toBeNull();
    const revoked = await cider(['fleet', 'nodes', 'revoke', 'mac-b', '--yes', '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ name: 'mac-b', status: 'revoked' });
  });
});
