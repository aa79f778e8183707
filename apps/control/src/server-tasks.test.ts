// Server tasks run by a real control plane (PostgreSQL, Redis/BullMQ): the row moves with
// progress and task.progress events reach subscribers; cancel from the dashboard aborts the
// runner; stopping control fails its running tasks as interrupted, and a new control process
// fails those a dead one left. The runner here is a controllable stand-in for @cider/oci's
// publish (it reports progress, then waits for its gate or its abort signal): this file tests
// the task lifecycle; publishing itself is tested where the runners are (see the report).
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { cancelTask, eventsChannel, interruptedMessage, startPublishFromApple, type FleetEvent, type PublishFromAppleInput, type ServerTaskRunners } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testControlConfig } from '../testing/control-config.ts';
import { until } from '../testing/fleet.ts';
import { startControl, type RunningControl } from './server.ts';

const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const database = useTestDatabase();
const redis = useRedisPrefix();
const admin = { label: 'admin@example.com' };

/**
 * Each publish reports 1/4, 2/4, 3/4 of 4 MiB, then waits for `finish` (or its abort signal).
 * A call's gate exists from the call's first line, so `finish` opens it even when it runs
 * before the call reaches the gate (the row can show 3/4 before the runner's last sleep ends).
 */
class GatedPublish {
  calls: PublishFromAppleInput[] = [];
  aborted: unknown[] = [];
  private gates = new Set<() => void>();
  finish() {
    for (const open of this.gates) open();
    this.gates.clear();
  }
  run = async (input: PublishFromAppleInput) => {
    this.calls.push(input);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.gates.add(open);
    const total = 4 * 1024 * 1024;
    for (let step = 1; step <= 3; step++) {
      input.onProgress({ bytesDone: (step * total) / 4, bytesTotal: total, message: 'Uploading' });
      await new Promise((r) => setTimeout(r, 60));
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.gates.delete(open);
        this.aborted.push(input.signal.reason);
        reject(input.signal.reason instanceof Error ? input.signal.reason : new Error('aborted'));
      };
      if (input.signal.aborted) return onAbort();
      input.signal.addEventListener('abort', onAbort, { once: true });
      void gate.then(resolve);
    });
    input.onProgress({ bytesDone: total, bytesTotal: total });
    return { digest: `sha256:${'d'.repeat(64)}`, references: input.tags.map((t) => `${input.repository}:${t}`), size: total };
  };
}

describe('server tasks in control (real PostgreSQL, Redis)', () => {
  const publish = new GatedPublish();
  const runners: ServerTaskRunners = {
    fetchAppleCatalog: async () => [{ version: '15.2', build: '24C101', url: 'http://127.0.0.1:9/UniversalMac_15.2_24C101_Restore.ipsw', sha1: 'b'.repeat(40), devices: [] }],
    restoreImageSize: () => Promise.reject(new Error('not here')),
    publishFromApple: publish.run,
    planBundle: () => Promise.reject(new Error('not here')),
    writeBundle: () => Promise.reject(new Error('not here')),
    exportBundle: () => Promise.reject(new Error('not here')),
  };
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl | undefined;
  let listener: Redis;
  const events: FleetEvent[] = [];
  let registryId: string;
  let config: Parameters<typeof createServiceDeps>[0];
  const start = async () => {
    control = await startControl({ ...testControlConfig(config, log), taskTickMs: 100, taskSweepIntervalMs: 200 });
  };

  beforeAll(async () => {
    config = {
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      secretKey: randomBytes(32).toString('base64'),
      tasks: { runners, appleCatalogUrl: 'http://127.0.0.1:9/catalog.xml' },
    };
    services = createServiceDeps(config);
    registryId = (await services.deps.db.registry.create({ data: { name: 'local', host: '127.0.0.1:5998', plainHttp: true, immutableTags: true } })).id;
    listener = new Redis(redis.url);
    listener.on('message', (_channel: string, raw: string) => events.push(JSON.parse(raw) as FleetEvent));
    await listener.subscribe(eventsChannel(redis.prefix));
    await start();
  });
  afterAll(async () => {
    publish.finish();
    listener?.disconnect();
    await control?.close();
    await services?.close();
  });

  const row = (id: string) => services.deps.db.serverTask.findUniqueOrThrow({ where: { id } });
  const taskEvents = (id: string) => events.filter((e) => (e.type === 'task.updated' || e.type === 'task.progress') && e.taskId === id);

  it('runs a publish: the row and task.progress events follow it, and it ends with the digest', async () => {
    const task = await startPublishFromApple(services.deps, admin, { build: '24C101', registryId, repository: 'apple/macos' });
    await until('progress on the row', async () => Number((await row(task.id)).bytesDone) >= 3 * 1024 * 1024, 10_000);
    expect(await row(task.id)).toMatchObject({ state: 'running', bytesTotal: BigInt(4 * 1024 * 1024), message: 'Uploading' });
    publish.finish();
    await until('success', async () => (await row(task.id)).state === 'succeeded', 10_000);
    const done = await row(task.id);
    expect(done).toMatchObject({ bytesDone: BigInt(4 * 1024 * 1024), error: null, message: null });
    expect(done.result).toMatchObject({ digest: `sha256:${'d'.repeat(64)}`, references: ['127.0.0.1:5998/apple/macos:15.2', '127.0.0.1:5998/apple/macos:15.2-24C101'], registryId });
    // What the runner was given: the catalog's URL and SHA-1, the registry's tag policy.
    expect(publish.calls[0]).toMatchObject({ repository: '127.0.0.1:5998/apple/macos', tags: ['15.2', '15.2-24C101'], immutableTags: true, image: { url: 'http://127.0.0.1:9/UniversalMac_15.2_24C101_Restore.ipsw', sha1: 'b'.repeat(40) } });
    await until('the events', async () => taskEvents(task.id).some((e) => e.type === 'task.updated' && e.state === 'succeeded'), 5_000);
    const seen = taskEvents(task.id);
    expect(seen.filter((e) => e.type === 'task.updated').map((e) => (e as { state: string }).state)).toEqual(['queued', 'running', 'succeeded']);
    const bars = seen.filter((e): e is Extract<FleetEvent, { type: 'task.progress' }> => e.type === 'task.progress');
    expect(bars.length).toBeGreaterThan(0);
    expect(bars.every((e) => e.bytesTotal === 4 * 1024 * 1024 && e.bytesDone <= e.bytesTotal)).toBe(true);
    expect(bars.map((e) => e.bytesDone)).toEqual([...bars.map((e) => e.bytesDone)].sort((a, b) => a - b));
  });

  it('cancels a running publish from the dashboard', async () => {
    const task = await startPublishFromApple(services.deps, admin, { build: '24C101', registryId, repository: 'apple/cancelled' });
    await until('running', async () => (await row(task.id)).state === 'running' && Number((await row(task.id)).bytesDone) > 0, 10_000);
    const aborted = publish.aborted.length;
    expect(await cancelTask(services.deps, admin, task.id)).toMatchObject({ state: 'running' });
    await until('cancelled', async () => (await row(task.id)).state === 'cancelled', 10_000);
    expect(publish.aborted.length).toBe(aborted + 1);
    expect(await row(task.id)).toMatchObject({ error: 'Cancelled from the dashboard.', result: null });
  });

  it('fails running tasks as interrupted when control stops, and those a dead control left when it starts', async () => {
    const task = await startPublishFromApple(services.deps, admin, { build: '24C101', registryId, repository: 'apple/interrupted' });
    await until('running', async () => (await row(task.id)).state === 'running', 10_000);
    await control!.close();
    control = undefined;
    expect(await row(task.id)).toMatchObject({ state: 'failed', error: interruptedMessage });

    // A control process that died (SIGKILL) wrote nothing: its task's row just stops moving.
    const orphan = await services.deps.db.serverTask.create({
      data: { kind: 'publish_apple', params: {}, state: 'running', startedAt: new Date(Date.now() - 120_000), updatedAt: new Date(Date.now() - 60_000) },
    });
    await start();
    await until('the orphan failed', async () => (await row(orphan.id)).state === 'failed', 10_000);
    expect(await row(orphan.id)).toMatchObject({ error: interruptedMessage });
  });
});
