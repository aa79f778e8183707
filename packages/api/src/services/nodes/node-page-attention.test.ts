// The overview's "needs attention" groups and the nodes list their links open, on real PostgreSQL:
// a fleet where every group has nodes (and nodes that nearly belong: a retry, a failure fetched
// again, revoked nodes), and for each group the overview's count is the list's total, node for node.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { fleetAttention, type AttentionKind } from '../fleet/attention.ts';
import { nodePage, type NodePageQuery } from './node-page.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const now = new Date();
const ago = (ms: number) => new Date(now.getTime() - ms);
const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;
const condition = { type: 'insufficient-space', digest: digestA, neededBytes: 2000, freeBytes: 500, since: now.toISOString() };
const badPeer = { type: 'bad-peer-data', digest: digestA, reportedBy: 'healthy', reports: 1, reason: 'digest mismatch', since: now.toISOString() };

/** The filter each group's "Show all" link sets (apps/web/src/components/overview/attention-list.tsx). */
const linkFilters: Record<AttentionKind, Partial<NodePageQuery>> = {
  condition: { condition: 'any' },
  offline: { state: 'offline' },
  failed: { sync: 'failed' },
  drift: { sync: 'drift' },
  'low-disk': { disk: 'low' },
};

const expected: Record<AttentionKind, string[]> = {
  condition: ['cond-agent', 'cond-control'],
  offline: ['offline', 'offline-failed', 'silent'],
  failed: ['failed', 'failed-fetching', 'offline-failed'],
  drift: ['drift', 'drift-fetching'],
  'low-disk': ['low'],
};

describe('the attention groups and the nodes list (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  const db = () => services.deps.db;
  const list = async (filter: Partial<NodePageQuery>) => nodePage(services.deps, { sort: 'name', direction: 'asc', page: 1, pageSize: 100, ...filter }, now.getTime());
  let serial = 0;

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const team = await db().team.create({ data: { name: 'attention team' } });
    const registry = await db().registry.create({ data: { name: 'attention registry', host: 'attention.example' } });
    const project = await db().project.create({ data: { name: 'every node', teamId: team.id, nodeSelector: {} } });
    for (const [digest, tag] of [[digestA, 'a'], [digestB, 'b']] as const) {
      await db().pin.create({ data: { projectId: project.id, registryId: registry.id, reference: `attention.example/macos:${tag}`, repository: 'macos', tag, digest, resolvedAt: ago(600_000) } });
    }
    type Options = { online?: boolean; lastSeenAt?: Date | null; free?: number; conditions?: object[]; control?: object[]; revoked?: 'row' | 'state'; holds?: string[] };
    const ids = new Map<string, string>();
    const node = async (name: string, o: Options = {}) => {
      const created = await db().node.create({
        data: {
          name,
          secretHash: 'x'.repeat(64),
          labels: {},
          state: o.revoked ? 'revoked' : o.online === false ? 'offline' : 'online',
          revokedAt: o.revoked === 'row' ? ago(1000) : null,
          lastSeenAt: o.lastSeenAt === undefined ? ago(5_000) : o.lastSeenAt,
          conditions: o.control ?? [],
          facts: { hostname: name, os: { platform: 'darwin', release: '15.2' }, architecture: 'arm64', cpus: 8, memoryBytes: 1, disk: { totalBytes: 1000, freeBytes: o.free ?? 500 }, cache: { path: '/c', bytes: 0 }, conditions: o.conditions ?? [] },
        },
      });
      ids.set(name, created.id);
      for (const digest of o.holds ?? [digestA, digestB]) await db().nodeImage.create({ data: { nodeId: created.id, digest, size: 1000n, verifiedAt: now } });
    };
    const job = (name: string, digest: string, state: 'queued' | 'pulling' | 'failed', o: { error?: string; createdAt?: Date } = {}) =>
      db().syncJob.create({
        data: { key: `sync:${name}:${++serial}`, nodeId: ids.get(name)!, digest, reference: 'attention.example/macos', state, bytesDone: 10n, bytesTotal: 1000n, error: o.error ?? null, createdAt: o.createdAt ?? now },
      });

    await node('healthy');
    await node('cond-agent', { conditions: [condition] });
    await node('cond-control', { control: [badPeer] });
    await node('failed', { holds: [digestB] });
    await job('failed', digestA, 'failed', { error: 'registry said no' });
    // A failure needs a person even while another image is being fetched.
    await node('failed-fetching', { holds: [] });
    await job('failed-fetching', digestA, 'failed', { error: 'registry said no' });
    await job('failed-fetching', digestB, 'pulling');
    await node('fetching', { holds: [digestA] });
    await job('fetching', digestB, 'pulling');
    // A retry pending is a sync under way: neither failed nor drift.
    await node('retrying', { holds: [digestA] });
    await job('retrying', digestB, 'queued', { error: 'connection reset' });
    // A failure fetched again since is no longer a failure.
    await node('refetched', { holds: [digestB] });
    await job('refetched', digestA, 'failed', { createdAt: ago(60_000) });
    await job('refetched', digestA, 'pulling');
    await node('drift', { holds: [] });
    await node('drift-fetching', { holds: [] });
    await job('drift-fetching', digestA, 'pulling');
    await node('low', { free: 50 });
    await node('offline', { online: false, lastSeenAt: null, holds: [] });
    await node('offline-failed', { online: false, lastSeenAt: ago(600_000), holds: [digestB] });
    await job('offline-failed', digestA, 'failed');
    await node('silent', { lastSeenAt: ago(300_000), holds: [] });
    // Revoked either way: in no group and not listed, whatever else holds.
    await node('revoked-row', { revoked: 'row', free: 10, conditions: [condition], holds: [] });
    await node('revoked-state', { revoked: 'state', free: 10, conditions: [condition], holds: [] });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('puts each node in the groups its rules say', async () => {
    const attention = await fleetAttention(services.deps, now);
    expect(attention.counts).toEqual(Object.fromEntries(Object.entries(expected).map(([kind, names]) => [kind, names.length])));
    for (const group of attention.groups) expect(group.nodes.map((n) => n.name).sort()).toEqual(expected[group.kind]);
    expect(attention.groups.map((g) => g.kind)).toEqual(['condition', 'offline', 'failed', 'drift', 'low-disk']);
  });

  it("lists exactly a group's nodes under its link's filter, as many as the overview counts", async () => {
    const attention = await fleetAttention(services.deps, now);
    for (const kind of Object.keys(linkFilters) as AttentionKind[]) {
      const page = await list(linkFilters[kind]);
      const group = attention.groups.find((g) => g.kind === kind);
      expect({ kind, total: page.total }).toEqual({ kind, total: attention.counts[kind] });
      expect({ kind, names: page.rows.map((r) => r.name) }).toEqual({ kind, names: expected[kind] });
      expect(group?.nodes.map((n) => n.name).sort()).toEqual(page.rows.map((r) => r.name));
    }
  });

  it('shows the sync state the filters select by, failures first', async () => {
    const sync = async (filter: Partial<NodePageQuery>) => (await list(filter)).rows.map((r) => [r.name, r.sync.state]);
    expect(await sync({ sync: 'failed' })).toEqual(expected.failed.map((name) => [name, 'failed']));
    expect(await sync({ sync: 'fetching' })).toEqual([['drift-fetching', 'fetching'], ['fetching', 'fetching'], ['refetched', 'fetching']]);
    expect(await sync({ sync: 'behind' })).toEqual([['drift', 'behind'], ['offline', 'behind'], ['retrying', 'behind'], ['silent', 'behind']]);
    expect((await list({ sync: 'in-sync' })).total).toBe(4);
    // Filters combine: the online nodes among the failed ones.
    expect((await list({ sync: 'failed', state: 'online' })).rows.map((r) => r.name)).toEqual(['failed', 'failed-fetching']);
    expect((await list({ state: 'revoked' })).rows.map((r) => r.name)).toEqual(['revoked-row', 'revoked-state']);
  });
});
