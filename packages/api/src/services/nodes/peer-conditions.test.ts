// Bad data from a peer (real PostgreSQL): believed only from a node fetching that image about a
// node that could have served it, audited, counted on the bad node's condition (bounded), shown
// beside what its agent reports, and cleared by an admin.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { fleetOverview } from '../fleet/overview.ts';
import { nodePage } from './node-page.ts';
import { applySyncEvent } from '../sync/transitions.ts';
import { clearNodeConditions, maxControlConditions, recordBadPeer } from './conditions.ts';
import { nodeDetail } from './detail.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const newDigest = () => `sha256:${randomBytes(32).toString('hex')}`;
let serial = 0;

describe('bad-peer-data conditions (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });

  const diskFull = { type: 'insufficient-space', neededBytes: 10, freeBytes: 1, since: '2026-11-26T06:00:00.000Z' } as const;
  const node = (name: string, agentConditions: object[] = []) =>
    services.deps.db.node.create({
      data: {
        name: `${name}-${++serial}`,
        secretHash: 'x'.repeat(64),
        state: 'online',
        lastSeenAt: new Date(),
        facts: { hostname: name, os: { platform: 'macOS', release: '24' }, architecture: 'arm64', cpu: { model: 'M2', cores: 8 }, memoryBytes: 1, disk: { totalBytes: 2, freeBytes: 1 }, cache: { path: '/c', bytes: 0 }, conditions: agentConditions },
      },
    });
  async function job(nodeId: string, digest: string) {
    const row = await services.deps.db.syncJob.create({ data: { key: `sync:${nodeId}:${digest}`, nodeId, digest, reference: 'r/x:1' } });
    await applySyncEvent(services.deps, row, { type: 'dispatch', attempt: 1 });
    return row;
  }
  const holds = (nodeId: string, digest: string) => services.deps.db.nodeImage.create({ data: { nodeId, digest, size: 1n, verifiedAt: new Date() } });
  const controlConditions = async (nodeId: string) => (await services.deps.db.node.findUniqueOrThrow({ where: { id: nodeId } })).conditions as { digest: string; reports: number; reportedBy: string; since: string }[];

  it('flags the peer, audits each report and counts them; the node page, the list and the overview show it beside the agent\'s own', async () => {
    const digest = newDigest();
    const bad = await node('bad', [diskFull]);
    await holds(bad.id, digest);
    const reporter = await node('reporter');
    const readerJob = await job(reporter.id, digest);
    expect(await recordBadPeer(services.deps, reporter.id, { jobId: readerJob.id, nodeId: bad.id, digest, reason: 'piece 3 of sha256:ab.. did not match' })).toBe(true);
    // The agent may name the blob that failed instead of the image: it counts for the job's image.
    const blob = newDigest();
    expect(await recordBadPeer(services.deps, reporter.id, { jobId: readerJob.id, nodeId: bad.id, digest: blob, reason: 'short read' })).toBe(true);

    const [condition] = await controlConditions(bad.id);
    expect(condition).toMatchObject({ type: 'bad-peer-data', digest, reportedBy: reporter.name, reports: 2, reason: 'short read' });
    const audit = await services.deps.db.auditEvent.findMany({ where: { action: 'node.bad-peer-data', targetId: bad.id }, orderBy: { id: 'asc' } });
    expect(audit.map((a) => a.actor)).toEqual([`node:${reporter.name}`, `node:${reporter.name}`]);
    expect(audit[0]!.after).toMatchObject({ reporter: reporter.name, digest, reason: 'piece 3 of sha256:ab.. did not match', reports: 1 });
    expect(audit[1]!.after).toMatchObject({ digest, blob, reports: 2 });

    const shown = [diskFull, { type: 'bad-peer-data', digest, reportedBy: reporter.name, reports: 2, reason: 'short read', since: condition!.since }];
    expect((await nodeDetail(services.deps, bad.id)).conditions).toEqual(shown);
    expect((await nodePage(services.deps, { sort: 'name', direction: 'asc', page: 1, pageSize: 100 })).rows.find((n) => n.id === bad.id)?.conditions).toEqual(shown);
    expect((await fleetOverview(services.deps)).conditions.filter((c) => c.nodeId === bad.id)).toHaveLength(2);
  });

  it('ignores reports from a node without an open job for the image, about a node that could not have served it, or about itself', async () => {
    const digest = newDigest();
    const bad = await node('bad');
    await holds(bad.id, digest);
    const stranger = await node('stranger');
    const reporter = await node('reporter');
    const readerJob = await job(reporter.id, digest);
    const report = { jobId: readerJob.id, nodeId: bad.id, digest, reason: 'bad' };
    // Someone else's job.
    expect(await recordBadPeer(services.deps, stranger.id, report)).toBe(false);
    // A node that neither holds nor fetches the image.
    expect(await recordBadPeer(services.deps, reporter.id, { ...report, nodeId: stranger.id })).toBe(false);
    expect(await recordBadPeer(services.deps, reporter.id, { ...report, nodeId: reporter.id })).toBe(false);
    expect(await recordBadPeer(services.deps, reporter.id, { ...report, jobId: 'not-a-uuid' })).toBe(false);
    // A finished job.
    await applySyncEvent(services.deps, readerJob.id, { type: 'done' });
    expect(await recordBadPeer(services.deps, reporter.id, report)).toBe(false);
    expect(await controlConditions(bad.id)).toEqual([]);
    expect(await services.deps.db.auditEvent.count({ where: { action: 'node.bad-peer-data', targetId: bad.id } })).toBe(0);
  });

  it('counts reports that arrive at once, keeps at most 8 conditions (the oldest go), and an admin clears them', async () => {
    const bad = await node('bad', [diskFull]);
    const digest = newDigest();
    await holds(bad.id, digest);
    const reporters = await Promise.all(Array.from({ length: 5 }, (_, i) => node(`r${i}`)));
    const jobs = await Promise.all(reporters.map((r) => job(r.id, digest)));
    const results = await Promise.all(reporters.map((r, i) => recordBadPeer(services.deps, r.id, { jobId: jobs[i]!.id, nodeId: bad.id, digest, reason: 'bad' })));
    expect(results).toEqual(Array(5).fill(true));
    expect((await controlConditions(bad.id)).map((c) => c.reports)).toEqual([5]);

    const reporter = reporters[0]!;
    const digests = Array.from({ length: maxControlConditions + 2 }, newDigest);
    for (const d of digests) {
      await holds(bad.id, d);
      const j = await job(reporter.id, d);
      expect(await recordBadPeer(services.deps, reporter.id, { jobId: j.id, nodeId: bad.id, digest: d, reason: 'bad' })).toBe(true);
    }
    expect((await controlConditions(bad.id)).map((c) => c.digest)).toEqual(digests.slice(-maxControlConditions));

    const admin = { label: 'admin@example.com' };
    expect((await clearNodeConditions(services.deps, admin, { nodeId: bad.id })).message).toMatch(/^Cleared 8 conditions on bad-\d+/);
    expect(await controlConditions(bad.id)).toEqual([]);
    // What its agent reports is the agent's to drop.
    expect((await nodeDetail(services.deps, bad.id)).conditions).toEqual([diskFull]);
    const audit = await services.deps.db.auditEvent.findFirstOrThrow({ where: { action: 'node.clear-conditions', targetId: bad.id } });
    expect(audit.actor).toBe('admin@example.com');
    expect((audit.before as { conditions: unknown[] }).conditions).toHaveLength(8);
    expect((await clearNodeConditions(services.deps, admin, { nodeId: bad.id })).message).toMatch(/had no conditions/);
    await expect(clearNodeConditions(services.deps, admin, { nodeId: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow(/No such node/);
  });
});
