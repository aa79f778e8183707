// Reconcile's promise: however many run at once, a node never gets two open jobs for one digest.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { decide, reconcileNodes } from './reconcile.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('reconcile (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('decides by the table: queue what is wanted and missing, close what arrived, cancel what is no longer wanted', () => {
    const job = { id: 'j' } as never;
    expect(decide(true, false, undefined, 'd').kind).toBe('queue');
    expect(decide(true, true, job, 'd').kind).toBe('arrived');
    expect(decide(false, false, job, 'd').kind).toBe('cancel');
    expect(decide(true, true, undefined, 'd').kind).toBe('none');
    expect(decide(false, true, undefined, 'd').kind).toBe('none');
  });

  it('creates one job per node and digest when many reconciles race', async () => {
    const { db } = services.deps;
    const team = await db.team.create({ data: { name: 'T' } });
    const project = await db.project.create({ data: { name: 'p', teamId: team.id } });
    const registry = await db.registry.create({ data: { name: 'r', host: '127.0.0.1:9', plainHttp: true } });
    const digest = `sha256:${'a'.repeat(64)}`;
    await db.pin.create({ data: { projectId: project.id, registryId: registry.id, reference: '127.0.0.1:9/x:1', repository: 'x', tag: '1', digest, resolvedAt: new Date() } });
    await db.node.createMany({ data: Array.from({ length: 20 }, (_, i) => ({ name: `n${i}`, secretHash: 'x'.repeat(64) })) });

    const summaries = await Promise.all(Array.from({ length: 6 }, () => reconcileNodes(services.deps)));
    expect(summaries.reduce((n, s) => n + s.queued, 0)).toBeGreaterThanOrEqual(20);
    const jobs = await db.syncJob.findMany({ where: { digest } });
    expect(jobs).toHaveLength(20);
    expect(new Set(jobs.map((j) => j.nodeId)).size).toBe(20);
    expect(await services.deps.queues.queue('sync').count()).toBe(20);
  });
});
