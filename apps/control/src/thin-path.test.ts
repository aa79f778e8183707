// The foundation's thin path against real PostgreSQL, Redis and docker-registry: a control
// plane, two enrolled agents with their own caches, a pin that resolves and rolls out.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceDeps } from '@cider/api';
import { AppError, createEnrollmentToken, createProject, createRegistry, createUser, projectRollout, setPin, type ServiceDeps } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { CiderMediaType, pushArtifact, RegistryClient, sha256 } from '@cider/oci';
import { writeRandomFile } from '@cider/oci/testing';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { Agent } from '@cider/agent/agent';
import { enroll } from '@cider/agent/enroll';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControl, type RunningControl } from './server.ts';
import { testControlConfig } from '../testing/control-config.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('thin path: pin -> reconcile -> sync jobs -> two agents hold the digest', () => {
  let work: string;
  let control: RunningControl;
  let services: ReturnType<typeof createServiceDeps>;
  let deps: ServiceDeps;
  const agents: Agent[] = [];
  const repository = uniqueRepository('demo');
  let imageDigest: string;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-thin-'));
    const secretKey = randomBytes(32).toString('base64');
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey };
    services = createServiceDeps(config);
    deps = services.deps;
    control = await startControl(testControlConfig(config, log));

    // A demo image in the registry.
    const payload = join(work, 'UniversalMac_15.2_24C101_Restore.ipsw');
    await writeRandomFile(payload, 2 * 1024 * 1024);
    const client = new RegistryClient();
    const pushed = await pushArtifact({
      client,
      reference: `${inject('registryHost')}/${repository}:15.2`,
      files: [{ path: payload, mediaType: CiderMediaType.ipsw }],
      artifactType: CiderMediaType.artifact,
      config: { mediaType: CiderMediaType.config, bytes: Buffer.from(JSON.stringify({ os: 'macOS', version: '15.2', build: '24C101', architecture: 'arm64' })) },
    });
    await client.close();
    imageDigest = pushed.digest;

    // Two agents, enrolled with a token an admin made, each with its own cache.
    const admin = await createUser(deps, { email: 'admin@example.com', name: 'Admin', password: 'correct horse battery', role: 'admin' });
    const { token } = await createEnrollmentToken(deps, { userId: admin.id, label: 'admin@example.com' }, { name: 'test', usesLeft: 2 });
    for (const name of ['mac-1', 'mac-2']) {
      const cacheDir = join(work, name);
      const config = await enroll({ server: control.url, token, name, labels: { pool: 'ci' }, cacheDir });
      const agent = new Agent({ config, log, reconnectBaseMs: 100, progressIntervalMs: 50 });
      const connected = agent.whenConnected();
      await agent.start();
      await connected;
      agents.push(agent);
    }
  });

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await control?.close();
    await services?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('rolls a pinned image out to both nodes, verified in each cache', async () => {
    const actor = { label: 'admin@example.com' };
    const team = await deps.db.team.create({ data: { name: 'Platform' } });
    await createRegistry(deps, actor, { name: 'local', host: inject('registryHost'), plainHttp: true, authKind: 'none' });
    const project = await createProject(deps, actor, { name: 'ios-ci', teamId: team.id, nodeSelector: { pool: 'ci' } });
    const pin = await setPin(deps, actor, { projectId: project.id, reference: `${inject('registryHost')}/${repository}:15.2`, mode: 'follow' });
    expect(pin.digest).toBe(imageDigest);

    const rollout = await until('both nodes in sync', async () => {
      const current = await projectRollout(deps, project.id);
      return current.rows.length === 2 && current.rows.every((r) => r.inSync) ? current : undefined;
    });
    expect(rollout.rows.map((r) => r.nodeName)).toEqual(['mac-1', 'mac-2']);

    // Each cache holds the image: index.json names it, every blob hashes to its name.
    for (const agent of agents) {
      const index = JSON.parse(await readFile(join(agent.config.cacheDir, 'index.json'), 'utf8'));
      expect(index.manifests.map((m: { digest: string }) => m.digest)).toEqual([imageDigest]);
      const blobDir = join(agent.config.cacheDir, 'blobs', 'sha256');
      for (const hex of await readdir(blobDir)) expect(sha256(await readFile(join(blobDir, hex)))).toBe(`sha256:${hex}`);
    }

    // The jobs are recorded as done, one per node, and the pin is in the audit log.
    const jobs = await deps.db.syncJob.findMany({ where: { digest: imageDigest } });
    expect(jobs.map((j) => j.state).sort()).toEqual(['done', 'done']);
    // A done job shows the bytes it moved, not the "0 of 0" of its first progress report.
    for (const job of jobs) {
      expect(job.bytesTotal).toBeGreaterThan(2n * 1024n * 1024n);
      expect(job.bytesDone).toBe(job.bytesTotal);
    }
    expect(await deps.db.auditEvent.count({ where: { action: 'pin.create' } })).toBe(1);
  });

  it('explains bad input instead of failing obscurely', async () => {
    const actor = { label: 'admin@example.com' };
    const project = await deps.db.project.findFirstOrThrow();
    const host = inject('registryHost');
    const attempt = (reference: string) => setPin(deps, actor, { projectId: project.id, reference, mode: 'follow' }).catch((e: unknown) => e);

    const unknownTag = await attempt(`${host}/${repository}:99.9`);
    expect(unknownTag).toBeInstanceOf(AppError);
    expect((unknownTag as AppError).code).toBe('NOT_FOUND');
    expect((unknownTag as AppError).message).toMatch(/Tag "99\.9" not found/);

    const malformed = (await attempt(`${host}/Demo/macOS:15.2`)) as AppError;
    expect(malformed.code).toBe('BAD_REQUEST');
    expect(malformed.message).toMatch(/Invalid reference .*lowercase/);

    const unconnected = (await attempt('registry.invalid/demo/macos:15.2')) as AppError;
    expect(unconnected.code).toBe('NOT_FOUND');
    expect(unconnected.message).toMatch(/Registry registry\.invalid is not connected/);

    const unreachable = (await createRegistry(deps, actor, { name: 'dead', host: '127.0.0.1:1', plainHttp: true, authKind: 'none' }).catch((e: unknown) => e)) as AppError;
    expect(unreachable.code).toBe('REGISTRY_UNREACHABLE');
    expect(unreachable.message).toMatch(/Cannot reach registry 127\.0\.0\.1:1.*connection refused/);
    expect(await deps.db.registry.count({ where: { name: 'dead' } })).toBe(0);
  });
});
