// A node whose disk has no room for an image says so in its facts (an insufficient-space
// condition); reconcile then queues no new job for that image on that node until the condition
// is gone, and queues everything else as usual.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import type { HostFacts } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { decide, reconcileNodes } from './reconcile.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

function facts(conditions: HostFacts['conditions']): HostFacts {
  return {
    hostname: 'mac',
    os: { platform: 'macOS', release: '24.2.0' },
    architecture: 'arm64',
    cpu: { model: 'M2', cores: 8 },
    memoryBytes: 16 * 1024 ** 3,
    disk: { totalBytes: 500 * 1024 ** 3, freeBytes: 3 * 1024 ** 3 },
    cache: { path: '/Library/Caches/Cider', bytes: 0 },
    conditions,
  };
}

describe('reconcile holds back images a node has no room for (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('decides held-back only for a wanted, missing digest with no open job', () => {
    expect(decide(true, false, undefined, 'd', true).kind).toBe('held-back');
    expect(decide(true, false, { id: 'j' } as never, 'd', true).kind).toBe('queue');
    expect(decide(true, true, undefined, 'd', true).kind).toBe('none');
    expect(decide(true, false, undefined, 'd', false).kind).toBe('queue');
  });

  it('queues no job for (node, digest) while the node reports no room for it, and queues it once the condition is gone', async () => {
    const { db } = services.deps;
    const team = await db.team.create({ data: { name: 'T' } });
    const project = await db.project.create({ data: { name: 'p', teamId: team.id } });
    const registry = await db.registry.create({ data: { name: 'r', host: '127.0.0.1:9', plainHttp: true } });
    const big = `sha256:${'b'.repeat(64)}`;
    const small = `sha256:${'c'.repeat(64)}`;
    for (const [digest, tag] of [[big, 'big'], [small, 'small']] as const) {
      await db.pin.create({ data: { projectId: project.id, registryId: registry.id, reference: `127.0.0.1:9/x:${tag}`, repository: 'x', tag, digest, resolvedAt: new Date() } });
    }
    const condition = { type: 'insufficient-space' as const, digest: big, reference: '127.0.0.1:9/x:big', neededBytes: 15_246_978_252, freeBytes: 3_328_599_654, since: new Date().toISOString() };
    const full = await db.node.create({ data: { name: 'full', secretHash: 'x'.repeat(64), facts: facts([condition]) as never } });
    const roomy = await db.node.create({ data: { name: 'roomy', secretHash: 'y'.repeat(64), facts: facts([]) as never } });

    const first = await reconcileNodes(services.deps);
    expect(first).toMatchObject({ queued: 3, heldBack: 1 });
    const jobs = await db.syncJob.findMany({ select: { nodeId: true, digest: true } });
    expect(jobs).toHaveLength(3);
    expect(jobs).not.toContainEqual({ nodeId: full.id, digest: big });
    expect(jobs).toContainEqual({ nodeId: roomy.id, digest: big });
    expect(jobs).toContainEqual({ nodeId: full.id, digest: small });

    // A second reconcile while the disk is unchanged: still no job for it.
    expect(await reconcileNodes(services.deps, [full.id])).toMatchObject({ heldBack: 1 });
    expect(await db.syncJob.count({ where: { nodeId: full.id, digest: big } })).toBe(0);

    // The heartbeat no longer carries the condition: the next reconcile queues it.
    await db.node.update({ where: { id: full.id }, data: { facts: facts([]) as never } });
    expect(await reconcileNodes(services.deps, [full.id])).toMatchObject({ queued: 2, heldBack: 0 });
    expect(await db.syncJob.count({ where: { nodeId: full.id, digest: big, state: 'queued' } })).toBe(1);
  });
});
