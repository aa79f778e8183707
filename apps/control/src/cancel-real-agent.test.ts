// Cancel as the Mac sees it: the real control plane (in process, real PostgreSQL and Redis), a
// real Agent with its own cache, and docker-registry behind a proxy that throttles the layer, so
// the pull is still moving when the admin cancels. The proxy is where the bytes are measured.
import { randomBytes } from 'node:crypto';
import { open, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@cider/agent/agent';
import { enroll } from '@cider/agent/enroll';
import { createServiceDeps } from '@cider/api';
import { cancelSyncJob, createEnrollmentToken, createProject, createRegistry, createUser, setPin } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { fsck, HostCache, pushArtifact, RegistryClient, sha256 } from '@cider/oci';
import { startFaultProxy, writeRandomFile, type FaultProxy, type ProxiedRequest } from '@cider/oci/testing';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControl, type RunningControl } from './server.ts';
import { testControlConfig } from '../testing/control-config.ts';
import { until } from '../testing/fleet.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const MiB = 1024 * 1024;
const actor = { label: 'admin@example.com' };
/** Above the parallel threshold: the layer comes over five 8 MiB segments at once. */
const layerSize = 40 * MiB;
/** Per connection: the whole layer would take about 16 s, so a cancel lands mid-pull. */
const throttle = 512 * 1024;

interface LogLine {
  msg: string;
  jobId?: string;
  bytesFetched?: number;
}

describe('a cancel reaches a real agent mid-pull', () => {
  let work: string;
  let control: RunningControl;
  let services: ReturnType<typeof createServiceDeps>;
  let proxy: FaultProxy;
  let agent: Agent;
  const agentLog: LogLine[] = [];
  const repository = uniqueRepository('cancel');
  let layerFile: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-cancel-'));
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    services = createServiceDeps(config);
    // Reconcile runs only when this test (or a pin) asks: nothing may queue the image again on its own.
    control = await startControl(testControlConfig(config, pino({ level: 'silent' })));
    proxy = await startFaultProxy(inject('registryUrl'));

    const admin = await createUser(services.deps, { email: actor.label, name: 'Admin', password: 'correct horse battery', role: 'admin' });
    const { token } = await createEnrollmentToken(services.deps, { userId: admin.id, label: actor.label }, { name: 'cancel', usesLeft: 1 });
    const agentConfig = await enroll({ server: control.url, token, name: 'mac-1', labels: { pool: 'ci' }, cacheDir: join(work, 'mac-1') });
    // The agent's own log says how it ended a job: confirmed as cancelled, or reported as failed.
    const log = pino({ level: 'info' }, { write: (line: string) => void agentLog.push(JSON.parse(line) as LogLine) });
    agent = new Agent({ config: agentConfig, log, reconnectBaseMs: 100, progressIntervalMs: 50 });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;

    layerFile = join(work, 'layer.bin');
    await writeRandomFile(layerFile, layerSize);
  });

  afterAll(async () => {
    await agent?.stop();
    await control?.close();
    await services?.close();
    await proxy?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('stops the byte flow within 2 s, confirms it, keeps the verified partial data, and a later sync resumes from it', async () => {
    const { deps } = services;
    // Pushed straight to the registry: the proxy sees only the agent's pull.
    const pusher = new RegistryClient();
    const pushed = await pushArtifact({ client: pusher, reference: `${inject('registryHost')}/${repository}:15.2`, files: [{ path: layerFile }] });
    await pusher.close();
    const layer = pushed.manifest.layers[0]!;
    expect(layer.size).toBe(layerSize);
    const isLayerGet = (r: ProxiedRequest) => r.method === 'GET' && r.path.includes(`/blobs/${layer.digest}`);
    proxy.setRule((r) => (isLayerGet(r) ? { kind: 'throttle', bytesPerSecond: throttle } : undefined));

    await createRegistry(deps, actor, { name: 'proxied', host: proxy.host, plainHttp: true, authKind: 'none' });
    const team = await deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(deps, actor, { name: 'ios-ci', teamId: team.id, nodeSelector: { pool: 'ci' } });
    await setPin(deps, actor, { projectId: project.id, reference: `${proxy.host}/${repository}:15.2`, mode: 'follow' });

    // Under way: the job is pulling and a few MiB of the layer went through the proxy.
    const job = await until('the pull to be under way', async () => {
      const row = await deps.db.syncJob.findFirst({ where: { digest: pushed.digest, state: 'pulling' } });
      return row && proxy.blobBytesServed >= 3 * MiB ? row : undefined;
    });

    const cancelAt = Date.now();
    const inFlight = proxy.requests.filter((r) => isLayerGet(r) && r.closedAt === undefined);
    expect(inFlight.length).toBeGreaterThan(1);
    const answer = await cancelSyncJob(deps, actor, job.id);
    expect(answer.state).toBe('cancelling');

    // Every layer connection that was moving bytes is closed by the agent within 2 s of the cancel.
    const stopBy = cancelAt + 2_000;
    await until('the layer connections to close', async () => inFlight.every((r) => r.closedAt !== undefined), stopBy - Date.now()).catch(() => undefined);
    expect(inFlight.map((r) => ({ closedWithin2s: r.closedAt !== undefined && r.closedAt <= stopBy, lastByteWithin2s: (r.lastByteAt ?? 0) <= stopBy }))).toEqual(
      inFlight.map(() => ({ closedWithin2s: true, lastByteWithin2s: true })),
    );

    // The agent confirms (it does not report a failure), and only then is the job cancelled.
    const cancelled = await until('the job to be cancelled', async () => {
      const row = await deps.db.syncJob.findUniqueOrThrow({ where: { id: job.id } });
      return row.state === 'cancelled' ? row : undefined;
    }, 10_000);
    expect(cancelled.finishedAt).not.toBeNull();
    const ofJob = agentLog.filter((l) => l.jobId === job.id).map((l) => l.msg);
    expect(ofJob).toContain('sync cancelled; partial data kept for a later resume');
    expect(ofJob.filter((m) => m.startsWith('sync failed'))).toEqual([]);

    // The partial layer stays in ingest/: its journal claims bytes, and every claimed byte is the layer's.
    const ingestDir = join(agent.config.cacheDir, 'ingest', layer.digest.slice('sha256:'.length));
    const journal = JSON.parse(await readFile(join(ingestDir, 'segments.json'), 'utf8')) as { size: number; segmentSize: number; done: number[] };
    expect(journal.size).toBe(layerSize);
    const kept = journal.done.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(layerSize);
    const source = await readFile(layerFile);
    const data = await open(join(ingestDir, 'data'), 'r');
    try {
      for (const [index, done] of journal.done.entries()) {
        const start = index * journal.segmentSize;
        const bytes = Buffer.alloc(done);
        await data.read(bytes, 0, done, start);
        expect(sha256(bytes), `segment ${index}: ${done} bytes at ${start}`).toBe(sha256(source.subarray(start, start + done)));
      }
    } finally {
      await data.close();
    }

    // Nothing moved the layer since the cancel: no request started after it, no byte after the 2 s.
    expect(proxy.requests.filter((r) => isLayerGet(r) && r.at > cancelAt)).toEqual([]);
    expect(proxy.requests.filter((r) => isLayerGet(r) && (r.lastByteAt ?? 0) > stopBy)).toEqual([]);

    // The pin still asks for the image: the next reconcile syncs it again, at full speed, from what was kept.
    proxy.setRule(undefined);
    const servedBefore = proxy.blobBytesServed;
    await deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: 'test: sync again after the cancel' });
    const again = await until('the new job to finish', async () => {
      const row = await deps.db.syncJob.findFirst({ where: { digest: pushed.digest, id: { not: job.id } } });
      return row?.state === 'done' ? row : undefined;
    });
    const fetched = proxy.blobBytesServed - servedBefore;
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThanOrEqual(layerSize - kept + 1 * MiB); // the rest of the layer, plus the small config
    const synced = agentLog.find((l) => l.jobId === again.id && l.msg === 'image synced');
    expect(synced?.bytesFetched).toBe(layerSize - kept);

    const cache = await HostCache.open(agent.config.cacheDir);
    expect((await cache.listImages()).map((i) => i.digest)).toEqual([pushed.digest]);
    expect((await fsck(cache)).ok).toBe(true);
  }, 60_000);
});
