// A rollout's distribution (real PostgreSQL): registry egress against image size × pulls, who fed
// whom from the finished jobs' bytes by source, only the project's nodes and finished pulls of the
// image, and the flows cut to the largest `flowEdgeCap` with the true count.
import { randomBytes, randomUUID } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import { projectRollout } from './overview.ts';
import { flowEdgeCap, rolloutFlow } from './rollout-flow.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

const newDigest = () => `sha256:${randomBytes(32).toString('hex')}`;
let serial = 0;

describe('rollout distribution (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });

  const db = () => services.deps.db;
  async function project(label: string) {
    const team = await db().team.create({ data: { name: `flow-${++serial}` } });
    return db().project.create({ data: { name: `flow-${serial}`, teamId: team.id, nodeSelector: { flow: label } } });
  }
  const node = (name: string, labels: Record<string, string>) => db().node.create({ data: { name: `${name}-${++serial}`, secretHash: 'x'.repeat(64), labels } });
  type Done = { registry: number; mirror?: number; peers?: Record<string, number>; origin?: boolean; state?: 'done' | 'failed'; digest?: string };
  const job = (nodeId: string, digest: string, done: Done) =>
    db().syncJob.create({
      data: {
        key: `sync:${nodeId}:${digest}:${++serial}`,
        nodeId,
        digest: done.digest ?? digest,
        reference: 'r/x:1',
        state: done.state ?? 'done',
        origin: done.origin ?? false,
        bytesTotal: 1000,
        bytesFromRegistry: done.registry,
        bytesFromMirror: done.mirror ?? 0,
        bytesFromPeers: Object.values(done.peers ?? {}).reduce((a, b) => a + b, 0),
        peerSources: done.peers ?? {},
        finishedAt: new Date(),
      },
    });

  it('sums egress against size × pulls and lists who fed whom, for the project\'s nodes and finished pulls only', async () => {
    const label = `a${++serial}`;
    const p = await project(label);
    const digest = newDigest();
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((n) => node(n, { flow: label })));
    const outsider = await node('outsider', { flow: 'other' });
    await db().nodeImage.create({ data: { nodeId: a!.id, digest, size: 1000n, verifiedAt: new Date() } });
    await job(a!.id, digest, { registry: 1000, origin: true });
    await job(b!.id, digest, { registry: 0, peers: { [a!.id]: 1000 } });
    await job(c!.id, digest, { registry: 0, peers: { [a!.id]: 600, [b!.id]: 400 } });
    await job(d!.id, digest, { registry: 100, mirror: 200, peers: { [c!.id]: 700 } });
    // A peer key that is no node id is no flow (its bytes still count in the job's peer total).
    await job(d!.id, digest, { registry: 0, peers: { registry: 5, [`${a!.id}x`]: 5 } });
    // None of these count: a node outside the project, a failed pull, another image, sources unknown.
    await job(outsider.id, digest, { registry: 1000, peers: { [a!.id]: 5 } });
    await job(d!.id, digest, { registry: 999, state: 'failed' });
    await job(d!.id, digest, { registry: 999, digest: newDigest() });
    await db().syncJob.create({ data: { key: `k${++serial}`, nodeId: c!.id, digest, reference: 'r/x:1', state: 'done' } });

    const flow = await rolloutFlow(services.deps, { projectId: p.id, digest });
    expect(flow).toMatchObject({ nodes: 4, pulls: 5, pulledNodes: 4, origins: 1, imageBytes: 1000, registryBytes: 1100, mirrorBytes: 200, peerBytes: 2710, withoutPeersBytes: 5000, edgeCount: 7, cut: false });
    expect(flow.egressRatio).toBeCloseTo(0.22);
    expect(flow.edges).toEqual([
      { from: 'registry', to: a!.id, bytes: 1000 },
      { from: a!.id, to: b!.id, bytes: 1000 },
      { from: c!.id, to: d!.id, bytes: 700 },
      { from: a!.id, to: c!.id, bytes: 600 },
      { from: b!.id, to: c!.id, bytes: 400 },
      { from: 'mirror', to: d!.id, bytes: 200 },
      { from: 'registry', to: d!.id, bytes: 100 },
    ].sort((x, y) => y.bytes - x.bytes || x.from.localeCompare(y.from) || x.to.localeCompare(y.to)));
    expect(flow.topFeeders).toEqual([
      { id: a!.id, bytes: 1600 },
      { id: 'registry', bytes: 1100 },
      { id: c!.id, bytes: 700 },
      { id: b!.id, bytes: 400 },
      { id: 'mirror', bytes: 200 },
    ]);
    expect(flow.names).toEqual({ [a!.id]: a!.name, [b!.id]: b!.name, [c!.id]: c!.name, [d!.id]: d!.name });

    // The rollout table of the same project agrees on who is in it.
    expect((await projectRollout(services.deps, p.id)).rows.map((r) => r.nodeId).sort()).toEqual([a!.id, b!.id, c!.id, d!.id].sort());
  });

  it('sends only the largest flows past the cap, and says how many there were; totals still count every byte', async () => {
    const label = `b${++serial}`;
    const p = await project(label);
    const digest = newDigest();
    const receivers = await Promise.all([1, 2, 3, 4].map((i) => node(`r${i}`, { flow: label })));
    // 4 receivers × 60 peers (some since removed: their ids name no node) + 4 registry flows.
    let bytes = 1;
    let peerTotal = 0;
    for (const receiver of receivers) {
      const peers: Record<string, number> = {};
      for (let i = 0; i < 60; i++) {
        peers[randomUUID()] = bytes;
        peerTotal += bytes;
        bytes++;
      }
      await job(receiver.id, digest, { registry: 10_000, peers });
    }
    const flow = await rolloutFlow(services.deps, { projectId: p.id, digest });
    expect(flow.edgeCount).toBe(244);
    expect(flow.cut).toBe(true);
    expect(flow.edges).toHaveLength(flowEdgeCap);
    expect(flow.edges.slice(0, 4).every((e) => e.from === 'registry' && e.bytes === 10_000)).toBe(true);
    // Largest first, and the smallest ones are the ones left out.
    const sizes = flow.edges.map((e) => e.bytes);
    expect(sizes).toEqual([...sizes].sort((x, y) => y - x));
    expect(Math.min(...sizes)).toBe(240 - (flowEdgeCap - 4) + 1);
    expect(flow.peerBytes).toBe(peerTotal);
    expect(flow.registryBytes).toBe(40_000);
    // No holder reported a size: the largest pull's total stands in.
    expect(flow.imageBytes).toBe(1000);
    expect(flow.topFeeders[0]).toEqual({ id: 'registry', bytes: 40_000 });
    expect(Object.keys(flow.names).sort()).toEqual(receivers.map((r) => r.id).sort());
  });

  it('is empty before any pull finished, and refuses an unknown project', async () => {
    const p = await project(`c${++serial}`);
    const flow = await rolloutFlow(services.deps, { projectId: p.id, digest: newDigest() });
    expect(flow).toMatchObject({ nodes: 0, pulls: 0, imageBytes: null, withoutPeersBytes: null, egressRatio: null, edges: [], edgeCount: 0, cut: false, topFeeders: [] });
    await expect(rolloutFlow(services.deps, { projectId: randomUUID(), digest: newDigest() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
