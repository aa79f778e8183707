// Long lists on the project and tag pages (real PostgreSQL): a project's rollout rows and an
// image's holders come a page at a time, with counts, a name search and "only not in sync".
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { imageHolders } from '../images/holders.ts';
import { projectRollout } from './overview.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const newDigest = () => `sha256:${randomBytes(32).toString('hex')}`;

describe('rollout rows and holders, paged (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });
  const db = () => services.deps.db;

  /** 130 nodes labelled for the project (every third holds the pin), and 5 outside it. */
  async function fleet() {
    const team = await db().team.create({ data: { name: 'paging' } });
    const registry = await db().registry.create({ data: { name: 'paging', host: 'paging.example:5000' } });
    const project = await db().project.create({ data: { name: 'paging', teamId: team.id, nodeSelector: { pool: 'paging' } } });
    const digest = newDigest();
    await db().pin.create({
      data: { projectId: project.id, registryId: registry.id, reference: 'paging.example:5000/demo/macos:15.2', repository: 'demo/macos', tag: '15.2', digest, resolvedAt: new Date() },
    });
    const names = Array.from({ length: 130 }, (_, i) => `mac-${String(i).padStart(3, '0')}`);
    await db().node.createMany({ data: names.map((name) => ({ name, secretHash: 'x'.repeat(64), labels: { pool: 'paging' }, state: 'online', lastSeenAt: new Date() })) });
    await db().node.createMany({ data: Array.from({ length: 5 }, (_, i) => ({ name: `other-${i}`, secretHash: 'x'.repeat(64), labels: { pool: 'elsewhere' } })) });
    const nodes = await db().node.findMany({ orderBy: { name: 'asc' } });
    const holders = nodes.filter((n) => n.name.startsWith('mac-') && Number(n.name.slice(4)) % 3 === 0);
    const outsider = nodes.find((n) => n.name === 'other-0')!;
    await db().nodeImage.createMany({ data: [...holders, outsider].map((n) => ({ nodeId: n.id, digest, size: 1000n, verifiedAt: new Date() })) });
    return { project, digest, holders, outsider };
  }

  it('pages rollout rows with counts, search and "only not in sync"', async () => {
    const { project, digest, holders } = await fleet();
    const first = await projectRollout(services.deps, project.id, { limit: 50 });
    expect(first).toMatchObject({ serving: 130, notInSync: 130 - holders.length, total: 130, offset: 0 });
    expect(first.rows).toHaveLength(50);
    expect(first.rows[0]!.nodeName).toBe('mac-000');
    const last = await projectRollout(services.deps, project.id, { offset: 100, limit: 50 });
    expect(last.rows.map((r) => r.nodeName)).toEqual(Array.from({ length: 30 }, (_, i) => `mac-${100 + i}`));

    const behind = await projectRollout(services.deps, project.id, { onlyNotInSync: true, limit: 50 });
    expect(behind.total).toBe(86);
    expect(behind.rows).toHaveLength(50);
    expect(behind.rows.every((r) => !r.inSync && r.cells[0]!.status !== 'in-sync')).toBe(true);
    expect(behind.rows.map((r) => r.nodeName)).not.toContain('mac-003');

    const searched = await projectRollout(services.deps, project.id, { search: 'MAC-01', limit: 100 });
    expect(searched.rows.map((r) => r.nodeName)).toEqual(Array.from({ length: 10 }, (_, i) => `mac-01${i}`));
    expect(searched.rows.find((r) => r.nodeName === 'mac-012')).toMatchObject({ inSync: true, cells: [{ status: 'in-sync', digest }] });
    expect((await projectRollout(services.deps, project.id, { search: 'mac-012', onlyNotInSync: true })).total).toBe(0);
    // Sorted: by name the other way round, or the nodes still missing the pin first (by name among them).
    expect((await projectRollout(services.deps, project.id, { direction: 'desc', limit: 2 })).rows.map((r) => r.nodeName)).toEqual(['mac-129', 'mac-128']);
    const bySync = await projectRollout(services.deps, project.id, { sort: 'sync', limit: 100, offset: 50 });
    expect(bySync.rows.slice(35, 38).map((r) => [r.nodeName, r.inSync])).toEqual([['mac-128', false], ['mac-000', true], ['mac-003', true]]);
    expect((await projectRollout(services.deps, project.id, { sort: 'sync', direction: 'desc', limit: 1 })).rows[0]!.nodeName).toBe('mac-000');
    // Without a limit (the control plane's own checks) every row comes back.
    expect((await projectRollout(services.deps, project.id)).rows).toHaveLength(130);
  });

  it('pages an image\'s holders with a count and a name search', async () => {
    const digest = newDigest();
    const nodes = await db().node.findMany({ where: { name: { startsWith: 'mac-' } }, orderBy: { name: 'asc' }, take: 120 });
    await db().nodeImage.createMany({ data: nodes.map((n) => ({ nodeId: n.id, digest, size: 5n, verifiedAt: new Date() })) });
    const page = await imageHolders(services.deps, { digests: [digest], limit: 50 });
    expect(page.total).toBe(120);
    expect(page.rows).toHaveLength(50);
    expect(page.rows[0]).toMatchObject({ nodeName: 'mac-000', digest, size: 5, nodeStatus: 'online' });
    const third = await imageHolders(services.deps, { digests: [digest], offset: 100, limit: 50 });
    expect(third.rows.map((r) => r.nodeName)).toEqual(nodes.slice(100).map((n) => n.name));
    const searched = await imageHolders(services.deps, { digests: [digest], search: 'MAC-11', limit: 50 });
    expect(searched).toMatchObject({ total: 10 });
    expect((await imageHolders(services.deps, { digests: [newDigest()], limit: 50 })).total).toBe(0);

    // Sorted: by name the other way round; by when each copy was verified or last used (never used last).
    expect((await imageHolders(services.deps, { digests: [digest], direction: 'desc', limit: 1 })).rows[0]!.nodeName).toBe('mac-119');
    await db().nodeImage.updateMany({ where: { digest, nodeId: nodes[7]!.id }, data: { verifiedAt: new Date(Date.now() - 86_400_000), lastUsedAt: new Date() } });
    expect((await imageHolders(services.deps, { digests: [digest], sort: 'verified', limit: 2 })).rows.map((r) => r.nodeName)).toEqual(['mac-007', 'mac-000']);
    expect((await imageHolders(services.deps, { digests: [digest], sort: 'used', direction: 'desc', limit: 2 })).rows.map((r) => r.nodeName)).toEqual(['mac-007', 'mac-000']);
  });
});
