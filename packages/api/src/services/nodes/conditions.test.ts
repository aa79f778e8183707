// Node conditions reach the dashboard's read models (node page, nodes list, overview) as the
// agent last reported them; anything in the stored facts that is not a valid condition is dropped.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { fleetOverview } from '../fleet/overview.ts';
import { nodePage } from './node-page.ts';
import { nodeDetail } from './detail.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('node conditions in the read models (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('returns insufficient-space conditions on nodes.get, nodes.page and the overview, and drops malformed ones', async () => {
    const { db } = services.deps;
    const base = {
      hostname: 'mac',
      os: { platform: 'macOS', release: '24.2.0' },
      architecture: 'arm64',
      cpu: { model: 'M2', cores: 8 },
      memoryBytes: 1,
      disk: { totalBytes: 2, freeBytes: 1 },
      cache: { path: '/c', bytes: 0 },
    };
    const condition = { type: 'insufficient-space', digest: `sha256:${'d'.repeat(64)}`, reference: 'r/x:1', neededBytes: 15_246_978_252, freeBytes: 3_328_599_654, since: '2026-11-26T06:00:00.000Z' };
    const full = await db.node.create({ data: { name: 'full', secretHash: 'a'.repeat(64), facts: { ...base, conditions: [condition] } } });
    const odd = await db.node.create({ data: { name: 'odd', secretHash: 'b'.repeat(64), facts: { ...base, conditions: [{ type: 'insufficient-space', neededBytes: -1 }, 'junk'] } } });
    const old = await db.node.create({ data: { name: 'old', secretHash: 'c'.repeat(64), facts: base } });

    expect((await nodeDetail(services.deps, full.id)).conditions).toEqual([condition]);
    expect((await nodeDetail(services.deps, odd.id)).conditions).toEqual([]);
    expect((await nodeDetail(services.deps, old.id)).conditions).toEqual([]);
    const listed = new Map((await nodePage(services.deps, { sort: 'name', direction: 'asc', page: 1, pageSize: 100 })).rows.map((n) => [n.name, n.conditions]));
    expect(listed.get('full')).toEqual([condition]);
    expect(listed.get('odd')).toEqual([]);
    expect((await fleetOverview(services.deps)).conditions).toEqual([{ nodeId: full.id, node: 'full', ...condition }]);
  });
});
