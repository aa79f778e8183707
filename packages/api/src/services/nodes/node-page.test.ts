// The nodes list at fleet scale against real PostgreSQL: 250 nodes across sites, pools and states,
// one project pinning two images, and every sync state; search, filters, sorts, pages and totals
// as the nodes page asks for them through the router.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useRouterHarness } from '../../../testing/test-context.ts';

const harness = useRouterHarness();
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;
const count = 250;
const name = (i: number) => `fleet-${String(i).padStart(3, '0')}`;
const revoked = (i: number) => i % 25 === 1;
const offline = (i: number) => i % 10 === 0;
const ios = (i: number) => i % 2 === 1;
const sites = ['ber', 'muc', 'ham'];
/** Only the iOS pool serves the project; among it, i % 8 picks the sync state. */
const expectedSync = (i: number) => (!ios(i) || revoked(i) ? 'in-sync' : ({ 1: 'in-sync', 3: 'fetching', 5: 'failed', 7: 'behind' } as const)[i % 8 as 1 | 3 | 5 | 7]);
const range = (predicate: (i: number) => boolean) => Array.from({ length: count }, (_, i) => i).filter(predicate).map(name);

describe('nodes.page (real PostgreSQL)', () => {
  const ids: string[] = [];
  const viewer = async () => harness.caller(await harness.user('viewer'));
  let page: Awaited<ReturnType<typeof viewer>>['nodes']['page'];

  beforeAll(async () => {
    const db = harness.deps.db;
    const now = Date.now();
    for (let i = 0; i < count; i++) ids.push(randomUUID());
    await db.node.createMany({
      data: ids.map((id, i) => ({
        id,
        name: name(i),
        secretHash: 'x'.repeat(64),
        labels: { pool: ios(i) ? 'ios' : 'mac', site: sites[i % 3]! },
        state: revoked(i) ? 'revoked' : offline(i) ? 'offline' : 'online',
        revokedAt: revoked(i) ? new Date() : null,
        lastSeenAt: new Date(now - 1000 - i * 100),
        facts: { hostname: name(i), os: { platform: 'macOS', release: '24.2.0' }, architecture: 'arm64', cpu: { model: 'M2', cores: 8 }, memoryBytes: 16 * GiB, disk: { totalBytes: 500 * GiB, freeBytes: (i + 1) * GiB }, cache: { path: '/c', bytes: 0 }, conditions: [] },
      })),
    });
    const team = await db.team.create({ data: { name: 'scale team' } });
    const registry = await db.registry.create({ data: { name: 'scale registry', host: 'scale.example:5000' } });
    const project = await db.project.create({ data: { name: 'ios ci at scale', teamId: team.id, nodeSelector: { pool: 'ios' } } });
    for (const [digest, tag] of [[digestA, 'a'], [digestB, 'b']] as const) {
      await db.pin.create({ data: { projectId: project.id, registryId: registry.id, reference: `scale.example:5000/demo:${tag}`, repository: 'demo', tag, digest, resolvedAt: new Date() } });
    }
    const images: { nodeId: string; digest: string; size: bigint; verifiedAt: Date }[] = [];
    const jobs: { key: string; nodeId: string; digest: string; reference: string; state: 'pulling' | 'failed'; bytesDone: bigint; bytesTotal: bigint; error?: string }[] = [];
    ids.forEach((nodeId, i) => {
      for (let k = 0; k < i % 4; k++) images.push({ nodeId, digest: `sha256:${String(k).repeat(64)}`, size: BigInt(MiB), verifiedAt: new Date() });
      if (!ios(i)) return;
      if (i % 8 !== 5) images.push({ nodeId, digest: digestA, size: BigInt(10 * MiB), verifiedAt: new Date() });
      if (i % 8 === 1) images.push({ nodeId, digest: digestB, size: BigInt(10 * MiB), verifiedAt: new Date() });
      const job = { key: `sync:${nodeId}:${digestB}`, nodeId, reference: 'scale.example:5000/demo:b', bytesTotal: 100n };
      if (i % 8 === 3) jobs.push({ ...job, digest: digestB, state: 'pulling', bytesDone: 42n });
      if (i % 8 === 5) jobs.push({ ...job, digest: digestA, state: 'failed', bytesDone: 0n, error: 'registry said no' });
    });
    await db.nodeImage.createMany({ data: images });
    await db.syncJob.createMany({ data: jobs });
    page = (await viewer()).nodes.page;
  });

  it('pages every node that is not revoked, 50 at a time by name, with the total', async () => {
    const first = await page({});
    expect(first).toMatchObject({ total: 240, page: 1, pages: 5, pageSize: 50 });
    expect(first.rows.map((r) => r.name)).toEqual(range((i) => !revoked(i)).slice(0, 50));
    const last = await page({ page: 5 });
    expect(last.rows.map((r) => r.name)).toEqual(range((i) => !revoked(i)).slice(200));
    // A page past the end shows the last one rather than nothing.
    expect((await page({ page: 99 })).page).toBe(5);
    await expect(page({ pageSize: 101 })).rejects.toThrow();
  });

  it('searches names in any case, and filters by site, label and state together', async () => {
    expect((await page({ search: 'FLEET-02' })).rows.map((r) => r.name)).toEqual(range((i) => i >= 20 && i < 30 && !revoked(i)));
    expect((await page({ search: '%' })).total).toBe(0);
    const berOffline = await page({ site: 'ber', state: 'offline', pageSize: 100 });
    expect(berOffline.rows.map((r) => r.name)).toEqual(range((i) => i % 3 === 0 && offline(i)));
    expect(berOffline.rows.every((r) => r.status === 'offline')).toBe(true);
    expect((await page({ label: 'pool=ios', pageSize: 100 })).total).toBe(range((i) => ios(i) && !revoked(i)).length);
    expect((await page({ label: 'pool', pageSize: 100 })).total).toBe(240);
    expect((await page({ state: 'revoked', pageSize: 100 })).rows.map((r) => r.name)).toEqual(range(revoked));
    expect((await page({ state: 'online' })).total).toBe(range((i) => !revoked(i) && !offline(i)).length);
  });

  it('gives every node its sync state, and filters by it', async () => {
    for (const state of ['in-sync', 'behind', 'fetching', 'failed'] as const) {
      const result = await page({ sync: state, pageSize: 100, page: 1 });
      const expected = range((i) => !revoked(i) && expectedSync(i) === state);
      expect(result.total).toBe(expected.length);
      expect(result.rows.map((r) => r.name)).toEqual(expected.slice(0, 100));
    }
    const [fetching] = (await page({ search: 'fleet-003' })).rows;
    expect(fetching!.sync).toEqual({ state: 'fetching', held: 1, pinned: 2, percent: 42 });
    const [failed] = (await page({ search: 'fleet-005' })).rows;
    expect(failed!.sync).toMatchObject({ state: 'failed', held: 0, pinned: 2 });
    const [behind] = (await page({ search: 'fleet-007' })).rows;
    expect(behind!.sync).toMatchObject({ state: 'behind', held: 1, pinned: 2 });
    const [unpinned] = (await page({ search: 'fleet-002' })).rows;
    expect(unpinned!.sync).toMatchObject({ state: 'in-sync', held: 0, pinned: 0 });
  });

  it('counts cache size and images from the same rows', async () => {
    const [node] = (await page({ search: 'fleet-003' })).rows;
    // Three 1 MiB images and the 10 MiB pinned one.
    expect(node).toMatchObject({ images: 4, cacheBytes: 13 * MiB, diskFreeBytes: 4 * GiB });
  });

  it('sorts by free disk, cache, last seen and state, name breaking ties', async () => {
    const byDisk = await page({ sort: 'diskFree', direction: 'desc', pageSize: 100, page: 3 });
    expect(byDisk.rows.map((r) => r.name)).toEqual(range((i) => !revoked(i)).reverse().slice(200));
    const byCache = (await page({ sort: 'cache', direction: 'desc', pageSize: 100 })).rows;
    expect(byCache.map((r) => r.cacheBytes)).toEqual([...byCache.map((r) => r.cacheBytes)].sort((a, b) => b - a));
    expect(byCache[0]).toMatchObject({ name: 'fleet-009', cacheBytes: 21 * MiB }); // both pins and one other; the first of its ties (fleet-001 is revoked)
    const bySeen = (await page({ sort: 'lastSeen', direction: 'desc' })).rows;
    expect(bySeen[0]!.name).toBe('fleet-000');
    const byState = (await page({ sort: 'state', pageSize: 100, page: 3 })).rows;
    const offlineNames = range((i) => offline(i) && !revoked(i));
    expect(byState.slice(-offlineNames.length).map((r) => r.name)).toEqual(offlineNames);
    expect(byState.slice(0, -offlineNames.length).every((r) => r.status === 'online')).toBe(true);
    const descending = (await page({ sort: 'name', direction: 'desc' })).rows;
    expect(descending[0]!.name).toBe('fleet-249');
  });
});
