// Applying the lifecycle to real rows (PostgreSQL, Redis): events racing for one job are decided
// one after the other; the dispatcher's channel carries typed outcomes and nothing else; and no
// code but transitions.ts writes a sync job's state.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTestDatabase } from '@cider/db/testing';
import { syncJobKey } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { SyncOutcomeRouter, syncOutcomesChannel, type SyncOutcome } from './outcomes.ts';
import { applySyncEvent } from './transitions.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sync job transitions (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let subscriber: Redis;
  let router: SyncOutcomeRouter;
  let nodeId: string;
  let digits = 0;

  async function job(state: 'queued' | 'dispatched' | 'pulling') {
    const digest = `sha256:${String(++digits).padStart(64, '0')}`;
    return services.deps.db.syncJob.create({ data: { key: syncJobKey(nodeId, digest), nodeId, digest, reference: 'r.example/a:1', state, attempts: state === 'queued' ? 0 : 1 } });
  }

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    subscriber = new Redis(redis.url);
    router = new SyncOutcomeRouter(subscriber, redis.prefix);
    nodeId = (await services.deps.db.node.create({ data: { name: 'mac-1', secretHash: 'x'.repeat(64) } })).id;
  });
  afterAll(async () => {
    subscriber?.disconnect();
    await services?.close();
  });

  it('decides racing events one after the other: twenty done reports make one done, heard once', async () => {
    const row = await job('pulling');
    const heard: SyncOutcome[] = [];
    const stop = await router.listen([row.id], (o) => heard.push(o));
    const results = await Promise.all(Array.from({ length: 20 }, () => applySyncEvent(services.deps, row.id, { type: 'done' })));
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect(results.filter((r) => !r.applied).map((r) => !r.applied && r.reason)).toEqual(Array(19).fill('a done sync job does not take done'));
    await applySyncEvent(services.deps, (await job('pulling')).id, { type: 'done' }); // another job's outcome: not ours
    // A marker after everything else on the channel: once it is here, anything else would be too.
    await services.deps.redis.publish(syncOutcomesChannel(redis.prefix), JSON.stringify({ kind: 'requeued', syncJobId: row.id, nodeId }));
    await until('the marker', () => heard.some((o) => o.kind === 'requeued'));
    stop();
    expect(heard).toEqual([
      { kind: 'done', syncJobId: row.id, nodeId },
      { kind: 'requeued', syncJobId: row.id, nodeId },
    ]);
  });

  it('a cancel racing progress reports ends cancelling, audited once, and the agent confirming it ends it', async () => {
    const row = await job('dispatched');
    const reports = Array.from({ length: 10 }, (_, i) => applySyncEvent(services.deps, row.id, { type: 'progress', bytesDone: i, bytesTotal: 10 }));
    const cancel = applySyncEvent(services.deps, row.id, { type: 'cancel', reason: 'Cancelled by admin', agentReachable: true });
    await Promise.all([...reports, cancel]);
    expect((await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: row.id } })).state).toBe('cancelling');
    expect(await services.deps.db.auditEvent.count({ where: { action: 'sync.cancel', targetId: row.id } })).toBe(1);
    expect((await applySyncEvent(services.deps, row.id, { type: 'cancelled' })).applied).toBe(true);
    expect(await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ state: 'cancelled', error: 'Cancelled by admin' });
  });

  it('says so for a job that does not exist', async () => {
    expect(await applySyncEvent(services.deps, '00000000-0000-4000-8000-000000000000', { type: 'done' })).toEqual({ applied: false, job: null, reason: 'no such sync job' });
  });

  it("the dispatchers' channel delivers only well-formed outcomes, each to the job or node it names", async () => {
    const row = await job('queued');
    const forJob: SyncOutcome[] = [];
    const forNode: SyncOutcome[] = [];
    const stops = [await router.listen([row.id], (o) => forJob.push(o)), await router.listen([nodeId], (o) => forNode.push(o))];
    const channel = syncOutcomesChannel(redis.prefix);
    for (const junk of ['not json', '{}', JSON.stringify({ kind: 'done', syncJobId: 'x', nodeId }), JSON.stringify({ kind: 'retry', syncJobId: row.id, nodeId, error: 'e'.repeat(3000) })]) {
      await services.deps.redis.publish(channel, junk);
    }
    await services.deps.redis.publish(channel, JSON.stringify({ kind: 'node-offline', nodeId }));
    await services.deps.redis.publish(channel, JSON.stringify({ kind: 'requeued', syncJobId: row.id, nodeId }));
    await until('both', () => forJob.length > 0 && forNode.length > 0);
    for (const stop of stops) stop();
    expect(forJob).toEqual([{ kind: 'requeued', syncJobId: row.id, nodeId }]);
    expect(forNode).toEqual([{ kind: 'node-offline', nodeId }]);
  });
});

describe('one writer of SyncJob.state', () => {
  it('no source file but sync/transitions.ts writes sync job rows (tests and seeds aside)', async () => {
    const root = fileURLToPath(new URL('../../../../../', import.meta.url));
    const writers: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['node_modules', 'generated', 'dist', 'testing', '.next'].includes(entry.name)) await walk(path);
        } else if (/\.tsx?$/.test(entry.name) && !/\.(test|spec)\.tsx?$/.test(entry.name)) {
          const text = await readFile(path, 'utf8');
          if (/syncJob\.(update|updateMany|updateManyAndReturn|upsert|create|createMany|createManyAndReturn)\(/.test(text)) writers.push(relative(root, path));
        }
      }
    };
    for (const dir of ['packages/api/src', 'apps/control/src', 'apps/web/src']) await walk(join(root, dir));
    expect(writers).toEqual(['packages/api/src/services/sync/transitions.ts']);
  });
});
