// The overview's aggregates on real PostgreSQL: rollouts in flight (nodes and bytes done, rate,
// egress), the attention list and its counts, the headline totals, cache top N and first-run
// checklist, and the trends history the control plane writes (convergence samples, rollout
// durations) with bytes per day. Each test starts from empty tables: these are fleet-wide sums.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { fleetAttention } from './attention.ts';
import { cacheTop, firstRunChecklist, fleetTotals } from './fleet-totals.ts';
import { fleetOverview } from './overview.ts';
import { rolloutsInFlight } from './rollouts-in-flight.ts';
import { DesiredState } from './desired-state.ts';
import { servedProjects } from './served-sql.ts';
import { bytesPerDay, projectConvergence, recordTrends, rolloutDurations, steadySampleMs } from './trends.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const newDigest = () => `sha256:${randomBytes(32).toString('hex')}`;
const now = new Date('2026-11-26T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
let serial = 0;

describe('overview aggregates (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });
  beforeEach(async () => {
    await db().$executeRawUnsafe('TRUNCATE nodes, projects, teams, registries, sync_jobs, node_images, rollouts, convergence_samples CASCADE');
  });

  const db = () => services.deps.db;
  const facts = (disk: { total: number; free: number; cache: number }, conditions: object[] = []) => ({
    hostname: 'h',
    os: { platform: 'darwin', release: '15.2' },
    architecture: 'arm64',
    cpus: 8,
    memoryBytes: 1,
    disk: { totalBytes: disk.total, freeBytes: disk.free },
    cache: { path: '/c', bytes: disk.cache },
    conditions,
  });
  type NodeOptions = { online?: boolean; labels?: Record<string, string>; disk?: { total: number; free: number; cache: number }; conditions?: object[] };
  const node = (name: string, options: NodeOptions = {}) =>
    db().node.create({
      data: {
        name,
        secretHash: 'x'.repeat(64),
        labels: options.labels ?? {},
        state: options.online === false ? 'offline' : 'online',
        lastSeenAt: options.online === false ? null : ago(5_000),
        facts: options.disk ? facts(options.disk, options.conditions) : undefined,
      },
    });
  async function registry() {
    return db().registry.create({ data: { name: `r${++serial}`, host: `r${serial}.example` } });
  }
  async function project(name: string, selector: Record<string, string>) {
    const team = await db().team.create({ data: { name: `t-${name}` } });
    return db().project.create({ data: { name, teamId: team.id, nodeSelector: selector } });
  }
  async function pin(projectId: string, digest: string, tag = '1', resolvedAt = ago(60_000)) {
    const reg = (await db().registry.findFirst()) ?? (await registry());
    return db().pin.create({ data: { projectId, registryId: reg.id, reference: `${reg.host}/macos:${tag}`, repository: 'macos', tag, digest, resolvedAt } });
  }
  const hold = (nodeId: string, digest: string, size = 1000) => db().nodeImage.create({ data: { nodeId, digest, size: BigInt(size), verifiedAt: now } });
  type JobOptions = { state: 'queued' | 'pulling' | 'done' | 'failed'; bytesDone?: number; startedAt?: Date; registry?: number; finishedAt?: Date; createdAt?: Date };
  const job = (nodeId: string, digest: string, o: JobOptions) =>
    db().syncJob.create({
      data: {
        key: `sync:${nodeId}:${digest}:${++serial}`,
        nodeId,
        digest,
        reference: 'r/macos:1',
        state: o.state,
        bytesDone: BigInt(o.bytesDone ?? 0),
        bytesTotal: 1000n,
        startedAt: o.startedAt ?? null,
        bytesFromRegistry: o.registry ?? null,
        finishedAt: o.finishedAt ?? null,
        ...(o.createdAt ? { createdAt: o.createdAt } : {}),
      },
    });

  it('matches selectors in SQL exactly as desired state does', async () => {
    const labels: Record<string, string>[] = [{ pool: 'ios', site: 'a' }, { pool: 'ios' }, {}, { pool: 'mac', site: 'a' }, { pool: 'ios', site: 'b', extra: 'x' }];
    for (const [i, l] of labels.entries()) await node(`sel-${i}`, { labels: l });
    const selectors: Record<string, string>[] = [{}, { pool: 'ios' }, { pool: 'ios', site: 'a' }, { site: 'a' }, { pool: 'none' }];
    for (const [i, selector] of selectors.entries()) await project(`sel-${i}`, selector);
    const sql = await db().$queryRaw<{ project_id: string; node_id: string }[]>`${servedProjects}`;
    const nodes = await db().node.findMany();
    const projects = await db().project.findMany({ include: { pins: true } });
    const desired = new DesiredState(nodes, projects);
    const expected = projects.flatMap((p) => desired.nodesOf(p.id).map((n) => `${p.id} ${n.id}`)).sort();
    expect(sql.map((r) => `${r.project_id} ${r.node_id}`).sort()).toEqual(expected);
    expect(expected).toHaveLength(5 + 3 + 1 + 2 + 0);
  });

  it('sums a rollout in flight: nodes and bytes done, rate and egress, over the nodes the project serves only', async () => {
    const p = await project('ios', { pool: 'ios' });
    const digest = newDigest();
    const settled = newDigest();
    await pin(p.id, digest, '2');
    await pin(p.id, settled, '1');
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => node(n, { labels: { pool: 'ios', site: 'x' } })));
    const outsider = await node('outsider', { labels: { pool: 'mac' } });
    const away = await node('away', { labels: { pool: 'ios' }, online: false });
    for (const n of [a!, b!, c!, away]) await hold(n.id, settled, 500);
    await job(away.id, digest, { state: 'pulling', bytesDone: 100, startedAt: ago(10_000) });
    await hold(a!.id, digest);
    await job(a!.id, digest, { state: 'done', bytesDone: 1000, registry: 300, finishedAt: ago(1000) });
    await job(b!.id, digest, { state: 'pulling', bytesDone: 400, startedAt: ago(10_000) });
    await job(c!.id, digest, { state: 'queued' });
    await job(outsider.id, digest, { state: 'done', bytesDone: 1000, registry: 1000, finishedAt: ago(1000) });

    const { rollouts, total } = await rolloutsInFlight(services.deps, now);
    expect(total).toBe(1);
    expect(rollouts).toEqual([
      // The offline node's pull counts its bytes, but neither as fetching nor in the rate.
      expect.objectContaining({ projectId: p.id, project: 'ios', digest, nodes: 4, done: 1, fetching: 1, queued: 1, offline: 1, imageBytes: 1000, bytesTotal: 4000, bytesDone: 1500, bytesPerSecond: 40, registryBytes: 300, deliveredBytes: 1000 }),
    ]);
    // Once every node holds it, it is no longer in flight.
    for (const n of [b!, c!, away]) await hold(n.id, digest);
    expect((await rolloutsInFlight(services.deps, now)).total).toBe(0);
  });

  it('lists the nodes needing attention, conditions first, and counts each kind over the fleet', async () => {
    const p = await project('all', {});
    const digest = newDigest();
    await pin(p.id, digest);
    const disk = { total: 1000, free: 500, cache: 10 };
    const healthy = await node('healthy', { disk });
    const fetching = await node('fetching', { disk });
    await node('drift', { disk });
    const failed = await node('failed', { disk });
    const low = await node('low', { disk: { total: 1000, free: 50, cache: 10 } });
    const full = await node('full', { disk, conditions: [{ type: 'insufficient-space', digest, neededBytes: 2000, freeBytes: 500, since: now.toISOString() }] });
    await node('offline', { online: false });
    await db().node.create({ data: { name: 'silent', secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: ago(300_000) } });
    for (const n of [healthy, low, full]) await hold(n.id, digest);
    await job(fetching.id, digest, { state: 'pulling', bytesDone: 1, startedAt: ago(1000) });
    await job(failed.id, digest, { state: 'failed', createdAt: ago(1000) });
    // A failure followed by a newer pull in flight is neither failed nor drift.
    await job(fetching.id, digest, { state: 'failed', createdAt: ago(60_000) });

    const attention = await fleetAttention(services.deps, now);
    expect(attention.counts).toEqual({ condition: 1, offline: 2, failed: 1, drift: 1, 'low-disk': 1 });
    expect(attention.total).toBe(6);
    expect(attention.groups.map((g) => [g.kind, g.count, g.nodes.map((n) => n.name)])).toEqual([
      ['condition', 1, ['full']],
      // The most recently heard from first: a node silent for minutes, then one never heard from.
      ['offline', 2, ['silent', 'offline']],
      ['failed', 1, ['failed']],
      ['drift', 1, ['drift']],
      ['low-disk', 1, ['low']],
    ]);
    expect(attention.groups[0]!.nodes[0]!.conditions).toEqual([expect.objectContaining({ type: 'insufficient-space', neededBytes: 2000 })]);
    // A silent node missing its image is offline, not drifting.
    expect(attention.groups[1]!.nodes[0]!.kinds).toEqual(['offline']);
    // The overview passes the listed nodes' conditions on as before.
    expect((await fleetOverview(services.deps)).conditions).toEqual([expect.objectContaining({ nodeId: full.id, node: 'full', type: 'insufficient-space' })]);
  });

  it('counts nodes online and in sync against the nodes with pins, and names the largest caches in a stable order', async () => {
    const empty = await fleetTotals(services.deps, now);
    expect(empty).toMatchObject({ nodes: 0, pinnedNodes: 0, inSync: 0 });
    const p = await project('ios', { pool: 'ios' });
    const digest = newDigest();
    await pin(p.id, digest);
    const nodes = [];
    for (let i = 0; i < 12; i++) nodes.push(await node(`n${String(i).padStart(2, '0')}`, { labels: i < 3 ? { pool: 'ios' } : {}, online: i !== 11, disk: { total: 1000, free: 400, cache: i < 4 ? 100 : i } }));
    await hold(nodes[0]!.id, digest);
    await hold(nodes[1]!.id, digest);
    const totals = await fleetTotals(services.deps, now);
    expect(totals).toEqual({ nodes: 12, online: 11, pinnedNodes: 3, inSync: 2, reporting: 12, cacheBytes: 400 + (4 + 5 + 6 + 7 + 8 + 9 + 10 + 11), diskTotalBytes: 12_000, diskFreeBytes: 4800 });
    const top = await cacheTop(services.deps);
    expect(top.map((t) => t.node)).toEqual(['n00', 'n01', 'n02', 'n03', 'n11', 'n10', 'n09', 'n08', 'n07', 'n06']);
  });

  it('ticks the first-run checklist off from what exists', async () => {
    // A fresh install: nothing in flight, nobody needing attention, no "in sync 100%".
    expect(await fleetOverview(services.deps)).toMatchObject({ nodes: 0, pinnedNodes: 0, inSync: 0, projects: 0, rollouts: { total: 0, rollouts: [] }, attention: { total: 0, groups: [] }, cacheTop: [], recentRollouts: [] });
    const steps = async () => Object.fromEntries((await firstRunChecklist(services.deps)).steps.map((s) => [s.step, s.done]));
    expect(await steps()).toEqual({ registry: false, image: false, project: false, pin: false });
    await registry();
    expect(await steps()).toEqual({ registry: true, image: false, project: false, pin: false });
    const p = await project('first', {});
    expect(await steps()).toEqual({ registry: true, image: false, project: true, pin: false });
    expect((await firstRunChecklist(services.deps)).firstProjectId).toBe(p.id);
    await pin(p.id, newDigest());
    const list = await firstRunChecklist(services.deps);
    expect(list.complete).toBe(true);
  });

  it('records convergence when it changes (and now and then while it stands) and times each rollout from its pin to the last node', async () => {
    const p = await project('trend', { pool: 't' });
    const first = newDigest();
    const p1 = await pin(p.id, first, '1', ago(10_000));
    const [a, b] = await Promise.all(['ta', 'tb'].map((n) => node(n, { labels: { pool: 't' } })));
    const at = (ms: number) => new Date(now.getTime() + ms);

    // A project no node serves gets samples, but no rollout.
    await pin((await project('unserved', { pool: 'none' })).id, newDigest(), '3');
    expect(await recordTrends(services.deps, now)).toEqual({ samples: 2, started: 1, finished: 0 });
    expect(await recordTrends(services.deps, at(10_000))).toEqual({ samples: 0, started: 0, finished: 0 });
    await hold(a!.id, first);
    expect(await recordTrends(services.deps, at(20_000))).toEqual({ samples: 1, started: 0, finished: 0 });
    await hold(b!.id, first);
    expect(await recordTrends(services.deps, at(50_000))).toEqual({ samples: 1, started: 0, finished: 1 });
    // Standing still, each project gets a sample now and then.
    expect(await recordTrends(services.deps, at(50_000 + steadySampleMs))).toEqual({ samples: 2, started: 0, finished: 0 });

    // Over a day, each slice of time keeps its lowest and its last point; over two weeks all of these share one slice.
    const points = async (days: number) => (await projectConvergence(services.deps, p.id, at(60_000 + steadySampleMs), days)).map((pt) => [pt.nodes, pt.holding]);
    expect(await points(0.01)).toEqual([[2, 0], [2, 1], [2, 2], [2, 2]]);
    expect(await points(14)).toEqual([[2, 0], [2, 2]]);

    // The tag moves: a new rollout, timed from the pin's new resolution.
    const second = newDigest();
    await db().pin.update({ where: { id: p1.id }, data: { digest: second, resolvedAt: at(400_000) } });
    await recordTrends(services.deps, at(410_000));
    await hold(a!.id, second);
    await hold(b!.id, second);
    await recordTrends(services.deps, at(490_000));
    // A pin first seen complete long after it resolved: its end is not known.
    const old = await project('old', {});
    const settled = newDigest();
    await pin(old.id, settled, '9', ago(86_400_000));
    await hold(a!.id, settled);
    await hold(b!.id, settled);
    await recordTrends(services.deps, at(500_000));

    const durations = await rolloutDurations(services.deps, { projectId: p.id, limit: 10 });
    expect(durations.map((d) => [d.digest, d.seconds, d.nodes])).toEqual([
      [second, 90, 2],
      [first, 60, 2],
    ]);
    const [untimed] = await rolloutDurations(services.deps, { projectId: old.id, limit: 10 });
    expect(untimed).toMatchObject({ digest: settled, seconds: null, finishedAt: null });
  });

  it('sums bytes synced per UTC day, with the days in between as zero', async () => {
    const n = await node('bytes');
    const digest = newDigest();
    await job(n.id, digest, { state: 'done', registry: 200, finishedAt: ago(60_000) });
    await job(n.id, newDigest(), { state: 'done', registry: 0, finishedAt: ago(60_000) });
    await job(n.id, newDigest(), { state: 'done', registry: 1000, finishedAt: ago(2 * 86_400_000) });
    await job(n.id, newDigest(), { state: 'failed', finishedAt: ago(60_000) });
    const days = await bytesPerDay(services.deps, now, 3);
    expect(days).toEqual([
      { day: '2026-11-24', bytes: 1000, registryBytes: 1000 },
      { day: '2026-11-25', bytes: 0, registryBytes: 0 },
      { day: '2026-11-26', bytes: 2000, registryBytes: 200 },
    ]);
  });
});
