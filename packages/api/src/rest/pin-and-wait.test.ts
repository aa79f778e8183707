// The README's CI example, docs/examples/pin-and-wait.sh, run as is (sh + curl) against the REST
// handler served over real HTTP (real PostgreSQL, Redis, docker-registry): it pins a tag and exits
// 0 once every serving node holds the digest, or 1 naming the node whose sync failed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { serveFetchHandler, type ServedHandler } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiToken } from '../services/access/api-tokens.ts';
import { useRouterHarness } from '../../testing/test-context.ts';
import { createRestHandler } from './handler.ts';

const harness = useRouterHarness();
const script = resolve(import.meta.dirname, '../../../../docs/examples/pin-and-wait.sh');
const run = promisify(execFile);

describe('docs/examples/pin-and-wait.sh (real HTTP, PostgreSQL, Redis, docker-registry)', () => {
  let work: string;
  let registry: RunningRegistry;
  let server: ServedHandler | undefined;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-pin-wait-'));
    registry = await startRegistry();
    const client = new RegistryClient();
    for (const tag of ['15.2', '15.3']) {
      const file = join(work, `payload-${tag}.bin`);
      await writeFile(file, `payload ${tag}`);
      digests[tag] = (await pushArtifact({ client, reference: `${registry.host}/macos:${tag}`, files: [{ path: file }] })).digest;
    }
    await client.close();
    server = await serveFetchHandler(createRestHandler({ basePath: '/api/v1', services: () => ({ deps: harness.deps, hub: harness.hub }), trustedProxyHops: 0 }));
  });
  afterAll(async () => {
    await server?.close();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('exits 0 when the nodes hold the digest, 5 on timeout, 4 naming the node whose sync failed, 3 when refused, 1 when unreachable', async () => {
    const db = harness.deps.db;
    const team = await db.team.create({ data: { name: 'ci' } });
    await db.project.create({ data: { name: 'builds', teamId: team.id, nodeSelector: { pool: 'ci' } } });
    await db.registry.create({ data: { name: 'local', host: registry.host, plainHttp: true } });
    const node = await db.node.create({ data: { name: 'mac-1', labels: { pool: 'ci' }, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } });
    // mac-1 already holds both digests (as if it pulled them earlier).
    for (const digest of Object.values(digests)) await db.nodeImage.create({ data: { nodeId: node.id, digest, size: 10n, verifiedAt: new Date() } });
    const member = await harness.user('member', { teams: { [team.id]: 'member' } });
    const { token } = await createApiToken(harness.deps, { userId: member.id, label: member.email }, { userId: member.id, name: 'ci' });
    const env = { ...process.env, CIDER_SERVER: `${server!.url}/`, CIDER_TOKEN: token, CIDER_POLL_SECONDS: '1' };

    const converged = await run('sh', [script, 'builds', `${registry.host}/macos:15.2`, '30'], { env });
    expect(converged.stdout).toContain(`Pinned ${registry.host}/macos:15.2 in builds at ${digests['15.2']}`);
    expect(converged.stdout).toMatch(/converged: 1\/1 nodes in sync/);

    // A node that has not fetched 15.2 yet: still in progress when the (zero) timeout is up.
    const late = await db.node.create({ data: { name: 'mac-3', labels: { pool: 'ci' }, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } });
    const waiting = await run('sh', [script, 'builds', `${registry.host}/macos:15.2`, '0'], { env }).catch((error: unknown) => error as { code: number; stdout: string; stderr: string });
    expect('code' in waiting ? waiting.code : 0).toBe(5);
    expect(waiting.stdout).toMatch(/in-progress: 1\/2 nodes in sync/);
    expect(waiting.stderr).toMatch(/Timed out after 0s; the rollout goes on/);
    for (const digest of Object.values(digests)) await db.nodeImage.create({ data: { nodeId: late.id, digest, size: 10n, verifiedAt: new Date() } });

    // A second node whose pull of 15.3 failed: the rollout is failing and the script says where.
    const broken = await db.node.create({ data: { name: 'mac-2', labels: { pool: 'ci' }, secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date() } });
    await db.syncJob.create({ data: { key: `sync:${broken.id}:${digests['15.3']}`, nodeId: broken.id, digest: digests['15.3']!, reference: `${registry.host}/macos:15.3`, state: 'failed', error: 'disk full' } });
    const failing = await run('sh', [script, 'builds', `${registry.host}/macos:15.3`, '30'], { env }).catch((error: unknown) => error as { code: number; stdout: string; stderr: string });
    expect('code' in failing ? failing.code : 0).toBe(4);
    expect(failing.stderr).toMatch(/mac-2 {2}.*macos:15\.3 {2}"disk full"/);

    // A refused pin (unknown tag) exits 3 with the API's error.
    const refused = await run('sh', [script, 'builds', `${registry.host}/macos:99`, '30'], { env }).catch((error: unknown) => error as { code: number; stderr: string });
    expect('code' in refused ? refused.code : 0).toBe(3);
    expect(refused.stderr).toMatch(/HTTP 404.*"code":"NOT_FOUND"/s);

    // Nobody listening: 1, and it says nothing was pinned.
    const closed = await serveFetchHandler(async () => new Response(null));
    await closed.close();
    const unreachable = await run('sh', [script, 'builds', `${registry.host}/macos:15.2`, '30'], { env: { ...env, CIDER_SERVER: closed.url } }).catch((error: unknown) => error as { code: number; stderr: string });
    expect('code' in unreachable ? unreachable.code : 0).toBe(1);
    expect(unreachable.stderr).toMatch(/Cannot reach .*nothing was pinned/);
  }, 60_000);
});
