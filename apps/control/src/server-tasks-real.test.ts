// The two server tasks for real, in a control plane (PostgreSQL, Redis/BullMQ, docker-registry):
// "Publish from Apple" reads a catalog in Apple's format served on loopback, streams a synthetic
// IPSW from a Range-capable HTTP server (which drops the connection once mid-way) into the
// registry with the catalog's SHA-1 checked, and tags it; a wrong SHA-1 fails the task and tags
// nothing. A project's bundle is then written to a path inside CIDER_BUNDLE_DIR and verifies.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceDeps } from '@cider/api';
import { cancelTask, eventsChannel, interruptedMessage, ociTaskRunners, startBundleExport, startPublishFromApple, type FleetEvent } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { RegistryClient, verifyBundle } from '@cider/oci';
import { makeAppleCatalog, makeSyntheticIpsw, startRangeServer, type RangeServer } from '@cider/oci/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testControlConfig } from '../testing/control-config.ts';
import { until } from '../testing/fleet.ts';
import { startControl, type RunningControl } from './server.ts';

const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const database = useTestDatabase();
const redis = useRedisPrefix();
const admin = { label: 'admin@example.com' };
const MiB = 1024 * 1024;

describe('server tasks with @cider/oci (real registry, HTTP server, PostgreSQL, Redis)', () => {
  let work: string;
  let bundleDir: string;
  let files: RangeServer;
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl;
  let listener: Redis;
  let registryId: string;
  let host: string;
  let ipswSize: number;
  let startAgain: () => Promise<void>;
  const events: FleetEvent[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-tasks-'));
    bundleDir = await mkdtemp(join(tmpdir(), 'cider-bundles-'));
    const ipsw = await makeSyntheticIpsw({ dir: work, payloadBytes: 24 * MiB, name: 'UniversalMac_15.2_24C101_Restore.ipsw' });
    const bytes = await readFile(ipsw);
    ipswSize = bytes.length;
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    // The catalog names the server's own URLs, known once it listens: it is added to the served files then.
    const served: Record<string, string | Buffer> = { '/ipsw/UniversalMac_15.2_24C101_Restore.ipsw': ipsw, '/ipsw/bad.ipsw': ipsw, '/ipsw/stalls.ipsw': ipsw };
    files = await startRangeServer({ files: served, faults: [{ at: 8 * MiB, kind: 'drop' }] });
    served['/catalog.xml'] = Buffer.from(
      makeAppleCatalog([
        { version: '15.2', build: '24C101', url: files.url('/ipsw/UniversalMac_15.2_24C101_Restore.ipsw'), sha1 },
        { version: '15.1', build: '24B83', url: files.url('/ipsw/bad.ipsw'), sha1: 'f'.repeat(40) },
        { version: '15.0', build: '24A335', url: files.url('/ipsw/stalls.ipsw'), sha1 },
      ]),
    );
    const config = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      secretKey: randomBytes(32).toString('base64'),
      tasks: { runners: ociTaskRunners(), appleCatalogUrl: files.url('/catalog.xml'), bundleDir },
    };
    services = createServiceDeps(config);
    host = new URL(inject('registryUrl')).host;
    registryId = (await services.deps.db.registry.create({ data: { name: 'local', host, plainHttp: true } })).id;
    listener = new Redis(redis.url);
    listener.on('message', (_channel: string, raw: string) => events.push(JSON.parse(raw) as FleetEvent));
    await listener.subscribe(eventsChannel(redis.prefix));
    startAgain = async () => {
      control = await startControl({ ...testControlConfig(config, log), taskTickMs: 200 });
    };
    await startAgain();
  });
  afterAll(async () => {
    listener?.disconnect();
    await control?.close();
    await services?.close();
    await files?.close();
    await rm(work, { recursive: true, force: true });
    await rm(bundleDir, { recursive: true, force: true });
  });

  const row = (id: string) => services.deps.db.serverTask.findUniqueOrThrow({ where: { id } });
  const repository = `tasks-${randomBytes(3).toString('hex')}/macos`;

  it('publishes from the catalog: streamed from the URL through a dropped connection, SHA-1 checked, tagged', async () => {
    const task = await startPublishFromApple(services.deps, admin, { build: '24C101', registryId, repository });
    await until('the publish', async () => ['succeeded', 'failed'].includes((await row(task.id)).state), 120_000);
    const done = await row(task.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    const result = done.result as { digest: string; references: string[] };
    expect(result.references).toEqual([`${host}/${repository}:15.2`, `${host}/${repository}:15.2-24C101`]);
    const client = new RegistryClient();
    try {
      const fetched = await client.repositoryOf(`${host}/${repository}:15.2-24C101`).fetchManifest('15.2-24C101');
      expect(fetched.descriptor.digest).toBe(result.digest);
    } finally {
      await client.close();
    }
    // It resumed after the drop: more than one ranged request for the IPSW.
    expect(files.requests.filter((r) => r.path.endsWith('UniversalMac_15.2_24C101_Restore.ipsw') && r.range).length).toBeGreaterThan(1);
    const bars = events.filter((e): e is Extract<FleetEvent, { type: 'task.progress' }> => e.type === 'task.progress' && e.taskId === task.id);
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.every((e) => e.bytesTotal === null || e.bytesDone <= e.bytesTotal)).toBe(true);
    expect(Number(done.bytesDone)).toBeGreaterThanOrEqual(ipswSize);
  });

  it('fails a publish whose SHA-1 does not match the catalog, and tags nothing', async () => {
    const task = await startPublishFromApple(services.deps, admin, { build: '24B83', registryId, repository });
    await until('the failure', async () => ['succeeded', 'failed'].includes((await row(task.id)).state), 120_000);
    const failed = await row(task.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/sha1|SHA-1/i);
    const client = new RegistryClient();
    try {
      await expect(client.repositoryOf(`${host}/${repository}:15.1`).fetchManifest('15.1')).rejects.toThrow();
    } finally {
      await client.close();
    }
  });

  it("writes a project's bundle inside CIDER_BUNDLE_DIR, and it verifies", async () => {
    const db = services.deps.db;
    const manifest = (await row((await db.serverTask.findFirstOrThrow({ where: { state: 'succeeded' } })).id)).result as { digest: string };
    const team = await db.team.create({ data: { name: 'Platform' } });
    const project = await db.project.create({ data: { name: 'iOS CI', teamId: team.id, nodeSelector: {} } });
    await db.pin.create({ data: { projectId: project.id, registryId, reference: `${host}/${repository}:15.2`, repository, tag: '15.2', digest: manifest.digest, resolvedAt: new Date() } });
    const path = join(bundleDir, 'ios-ci.tar');
    const task = await startBundleExport(services.deps, admin, { projectId: project.id, path });
    await until('the export', async () => ['succeeded', 'failed'].includes((await row(task.id)).state), 120_000);
    const done = await row(task.id);
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ path, images: 1 });
    expect((await stat(path)).size).toBe((done.result as { bytes: number }).bytes);
    const verified = await verifyBundle(path);
    expect(verified.problems).toEqual([]);
    expect(verified.images).toEqual([{ refName: `${repository}:15.2`, digest: manifest.digest }]);
    // Never over an existing file: the same path again is refused before anything is queued.
    await expect(startBundleExport(services.deps, admin, { projectId: project.id, path })).rejects.toThrow(/already exists/);
  });

  it('cancels a real publish whose download has stalled, and fails one as interrupted when control stops', async () => {
    const tagged = async (tag: string) => {
      const client = new RegistryClient();
      try {
        return await client.repositoryOf(`${host}/${repository}:${tag}`).fetchManifest(tag).then(
          () => true,
          () => false,
        );
      } finally {
        await client.close();
      }
    };
    // The IPSW's server goes silent 4 MiB in (the client would wait 30 s before resuming).
    // (Progress is counted per uploaded chunk, so the row's bytes stay 0 here; the server's count moves.)
    const stalledAt = async (before: number) => until('the download to reach the stall', async () => files.bytesSent - before >= 3 * MiB, 20_000);
    files.addFaults([{ at: 4 * MiB, kind: 'stall' }]);
    let before = files.bytesSent;
    const cancelled = await startPublishFromApple(services.deps, admin, { build: '24A335', registryId, repository, tags: ['cancelled'] });
    await stalledAt(before);
    expect((await row(cancelled.id)).state).toBe('running');
    await cancelTask(services.deps, admin, cancelled.id);
    await until('cancelled', async () => (await row(cancelled.id)).state === 'cancelled', 20_000);
    expect(await tagged('cancelled')).toBe(false);

    files.addFaults([{ at: 4 * MiB, kind: 'stall' }]);
    before = files.bytesSent;
    const interrupted = await startPublishFromApple(services.deps, admin, { build: '24A335', registryId, repository, tags: ['interrupted'] });
    await stalledAt(before);
    expect((await row(interrupted.id)).state).toBe('running');
    await control.close();
    expect(await row(interrupted.id)).toMatchObject({ state: 'failed', error: interruptedMessage });
    expect(await tagged('interrupted')).toBe(false);
    await startAgain();
  });
});
