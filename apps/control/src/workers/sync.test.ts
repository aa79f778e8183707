// A PostgreSQL outage while a sync job waits for its agent (real PostgreSQL and Redis; the outage
// is a database client pointed at a port where nothing listens): every read fails, is logged,
// and the wait goes on; when the database is back, the job completes as if nothing happened.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createServiceDeps } from '@cider/api';
import { applySyncEvent, publishSyncOutcome, SyncOutcomeRouter, type JobPayload, type ServiceDeps } from '@cider/api/services';
import { createDb, type Db } from '@cider/db';
import { useTestDatabase } from '@cider/db/testing';
import { generateNodeKeyPair, syncJobKey, type ControlMessage } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandBus } from '../gateway/commands.ts';
import { until } from '../../testing/fleet.ts';
import { NodeSlots } from './node-slots.ts';
import { createSyncProcessor } from './sync.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('sync dispatch through a PostgreSQL outage (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let subscriber: Redis;
  let outcomeSubscriber: Redis;
  let unreachable: Db;

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    subscriber = new Redis(redis.url);
    outcomeSubscriber = new Redis(redis.url);
    unreachable = createDb('postgresql://cider@127.0.0.1:1/cider', { max: 1, connectionTimeoutMs: 500 });
  });
  afterAll(async () => {
    await unreachable?.$disconnect().catch(() => {});
    subscriber?.disconnect();
    outcomeSubscriber?.disconnect();
    await services?.close();
  });

  it('logs the failed reads, keeps waiting, and completes the job once the database answers again', async () => {
    const { db } = services.deps;
    const node = await db.node.create({ data: { name: 'mac-1', secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date(), publicKey: generateNodeKeyPair().publicKey } });
    const registry = await db.registry.create({ data: { name: 'r', host: '127.0.0.1:9', plainHttp: true } });
    const digest = `sha256:${'ab'.repeat(32)}`;
    const row = await db.syncJob.create({ data: { key: syncJobKey(node.id, digest), nodeId: node.id, digest, reference: '127.0.0.1:9/demo/macos:15.2', state: 'queued' } });

    // The worker's view of the database: the real one until the job is dispatched, then the outage.
    let current: Db = db;
    const deps: ServiceDeps = Object.defineProperty({ ...services.deps }, 'db', { get: () => current });
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const commands = new CommandBus(services.deps.redis, subscriber, redis.prefix);
    const sent: ControlMessage[] = [];
    await commands.listen({
      onCommand: (_nodeId, message) => {
        sent.push(message);
        if (message.type === 'sync') current = unreachable;
      },
      onNotice: () => {},
    });
    const outcomes = new SyncOutcomeRouter(outcomeSubscriber, redis.prefix);
    const processor = createSyncProcessor({ deps, commands, outcomes, slots: new NodeSlots(services.deps.redis, redis.prefix, 2), log, stallTimeoutMs: 60_000, pollMs: 300 });
    const payload = { syncJobId: row.id, nodeId: node.id, digest, reference: row.reference, registryId: registry.id } satisfies JobPayload<'sync'>;
    const job = { data: payload, attemptsMade: 0, opts: {}, moveToDelayed: async () => {} } as unknown as Job<JobPayload<'sync'>>;

    let finished = false;
    const run = processor.process(payload, job).finally(() => (finished = true));
    await until('the job to be dispatched', async () => current === unreachable);

    // What makes the waiting dispatcher read the database, which is down: its node's socket closed
    // (it looks whether the node is really gone), and its polls of the row.
    await publishSyncOutcome(services.deps, { kind: 'node-offline', nodeId: node.id });
    await until('both failed reads to be logged', async () => lines.filter((l) => l.includes('still waiting')).length >= 2, 20_000);
    expect(finished).toBe(false);

    // The database is back and the agent's report lands: the dispatcher hears it and completes.
    current = db;
    await applySyncEvent(services.deps, row.id, { type: 'done' });
    await run;
    expect((await db.syncJob.findUniqueOrThrow({ where: { id: row.id } })).state).toBe('done');
    expect(sent.map((m) => m.type)).toEqual(['sync']);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(expect.arrayContaining(['reading a sync job failed; still waiting', 'reading a node failed; still waiting']));
  });
});
