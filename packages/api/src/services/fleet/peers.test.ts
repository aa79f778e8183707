// The tracker's answers (real PostgreSQL): which nodes a job may read from, in which order, with
// tickets their peer servers accept; and origin planning that picks exactly k registry fetchers
// per site and digest even when two control processes plan at once.
import { randomBytes } from 'node:crypto';
import type { Prisma } from '@cider/db';
import { useTestDatabase } from '@cider/db/testing';
import { checkPeerTicket } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from '../../deps-factory.ts';
import type { ServiceDeps } from '../deps.ts';
import { applySyncEvent } from '../sync/transitions.ts';
import { peerTicketKey } from './peer-tickets.ts';
import { peerPlanFor, peerUrls } from './peers.ts';
import { peerSubnetsOf, subnetOf } from './subnets.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

let serial = 0;
const newDigest = () => `sha256:${randomBytes(32).toString('hex')}`;

describe('the tracker (real PostgreSQL)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  /** A second "control process": its own Prisma client and Redis connections, the same secret key. */
  let other: ReturnType<typeof createServiceDeps>;
  beforeAll(() => {
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    services = createServiceDeps(config);
    other = createServiceDeps(config);
  });
  afterAll(async () => {
    await services?.close();
    await other?.close();
  });

  interface NodeSpec {
    site?: string;
    addresses?: string[];
    /** No peer server in the facts. */
    noPeer?: boolean;
    uploadsInFlight?: number;
    uploadedBytes?: number;
    offline?: boolean;
    revoked?: boolean;
    conditions?: Prisma.InputJsonValue[];
  }

  async function node(name: string, spec: NodeSpec = {}) {
    const facts = {
      hostname: name,
      os: { platform: 'macOS', release: '24.2.0' },
      architecture: 'arm64',
      cpu: { model: 'M2', cores: 8 },
      memoryBytes: 1,
      disk: { totalBytes: 2, freeBytes: 1 },
      cache: { path: '/c', bytes: 0 },
      conditions: [],
      ...(spec.noPeer
        ? {}
        : { peer: { port: 7941, addresses: spec.addresses ?? ['127.0.0.2'], uploadedBytes: spec.uploadedBytes ?? 0, uploadsInFlight: spec.uploadsInFlight ?? 0 } }),
    };
    return services.deps.db.node.create({
      data: {
        name: `${name}-${++serial}`,
        secretHash: 'x'.repeat(64),
        labels: spec.site ? { site: spec.site } : {},
        facts,
        state: spec.revoked ? 'revoked' : spec.offline ? 'offline' : 'online',
        lastSeenAt: spec.offline ? new Date(Date.now() - 10 * 60_000) : new Date(),
        revokedAt: spec.revoked ? new Date() : null,
        conditions: spec.conditions ?? [],
        peerSubnets: peerSubnetsOf(facts),
      },
    });
  }

  const holds = (nodeId: string, digest: string) =>
    services.deps.db.nodeImage.create({ data: { nodeId, digest, size: 1n, verifiedAt: new Date() } });

  /** An open job for the node and digest, dispatched (or left queued) through the lifecycle. */
  async function job(nodeId: string, digest: string, state: 'queued' | 'dispatched' | 'pulling' = 'dispatched') {
    const row = await services.deps.db.syncJob.create({ data: { key: `sync:${nodeId}:${digest.replace(':', '-')}`, nodeId, digest, reference: '127.0.0.1:9/x:1' } });
    if (state === 'queued') return row;
    await applySyncEvent(services.deps, row, { type: 'dispatch', attempt: 1 });
    if (state === 'pulling') await applySyncEvent(services.deps, row.id, { type: 'progress', bytesDone: 1, bytesTotal: 10 });
    return services.deps.db.syncJob.findUniqueOrThrow({ where: { id: row.id } });
  }

  const plan = (deps: ServiceDeps, row: { id: string; nodeId: string; digest: string }, fanOut?: number) =>
    peerPlanFor(deps, { syncJobId: row.id, nodeId: row.nodeId, digest: row.digest }, fanOut === undefined ? {} : { fanOut });
  const names = (p: { candidates: { name: string }[] }) => p.candidates.map((c) => c.name.replace(/-\d+$/, ''));

  it('groups addresses by subnet: IPv4 /24, IPv6 /64, all of loopback as one', () => {
    expect(subnetOf('10.1.2.3')).toBe(subnetOf('10.1.2.200'));
    expect(subnetOf('10.1.2.3')).not.toBe(subnetOf('10.1.3.3'));
    expect(subnetOf('127.0.0.2')).toBe(subnetOf('127.5.0.9'));
    expect(subnetOf('fd00:1:2:3::5')).toBe(subnetOf('fd00:0001:0002:0003:ffff::1'));
    expect(subnetOf('fd00:1:2:3::5')).not.toBe(subnetOf('fd00:1:2:4::5'));
    expect(subnetOf('fd00::1')).toBe(subnetOf('fd00:0:0:0:1::2'));
    expect(subnetOf('mac.local')).toBeUndefined();
    expect(peerUrls({ port: 7941, addresses: ['10.0.0.5', 'fd00::5', 'fe80::1%en0', 'mac.local'] })).toEqual(['http://10.0.0.5:7941', 'http://[fd00::5]:7941']);
  });

  it("offers the reader's site's online peer servers that hold or fetch the image, never other sites, offline, revoked or flagged nodes", async () => {
    const digest = newDigest();
    const reader = await node('reader', { site: 'berlin', addresses: ['10.0.0.1'] });
    const readerJob = await job(reader.id, digest);
    // Another subnet, same site: the site is what counts.
    const holder = await node('holder', { site: 'berlin', addresses: ['10.9.9.9', 'fd00:9::9'], uploadsInFlight: 1 });
    await holds(holder.id, digest);
    const fetching = await node('fetching', { site: 'berlin', addresses: ['10.0.0.3'] });
    await job(fetching.id, digest, 'pulling');
    const queuedOnly = await node('queued-only', { site: 'berlin', addresses: ['10.0.0.4'] });
    await job(queuedOnly.id, digest, 'queued');
    const otherSite = await node('other-site', { site: 'paris', addresses: ['10.0.0.5'] });
    await holds(otherSite.id, digest);
    const noSite = await node('no-site', { addresses: ['10.0.0.6'] });
    await holds(noSite.id, digest);
    const offline = await node('offline', { site: 'berlin', offline: true });
    await holds(offline.id, digest);
    const revoked = await node('revoked', { site: 'berlin', revoked: true });
    await holds(revoked.id, digest);
    const noPeer = await node('no-peer', { site: 'berlin', noPeer: true });
    await holds(noPeer.id, digest);
    const since = new Date().toISOString();
    const flagged = await node('flagged', { site: 'berlin', conditions: [{ type: 'bad-peer-data', digest, reportedBy: 'x', reports: 1, reason: 'bad piece', since }] });
    await holds(flagged.id, digest);
    // Flagged for another image only: still a peer for this one.
    const flaggedElsewhere = await node('flagged-elsewhere', { site: 'berlin', uploadsInFlight: 2, conditions: [{ type: 'bad-peer-data', digest: newDigest(), reportedBy: 'x', reports: 1, reason: 'bad piece', since }] });
    await holds(flaggedElsewhere.id, digest);
    const unrelated = await node('unrelated', { site: 'berlin' });
    await holds(unrelated.id, newDigest());

    const result = await plan(services.deps, readerJob);
    expect(names(result)).toEqual(['holder', 'flagged-elsewhere', 'fetching']);
    expect(result.candidates.map((c) => c.complete)).toEqual([true, true, false]);
    expect(result.candidates[0]!.urls).toEqual(['http://10.9.9.9:7941', 'http://[fd00:9::9]:7941']);
    expect(result.candidates[0]!.nodeId).toBe(holder.id);
    // A holder of the site feeds it: nobody goes to the registry.
    expect(result.origin).toBe(false);
  });

  it('without a site label, offers site-less nodes that share a subnet with the reader (IPv4 /24 or IPv6 /64)', async () => {
    const digest = newDigest();
    const reader = await node('reader', { addresses: ['192.168.7.10', 'fd00:7:7:7::10'] });
    const readerJob = await job(reader.id, digest);
    for (const [name, addresses] of [
      ['same-v4', ['192.168.7.99']],
      ['same-v6', ['fd00:7:7:7::99', '172.16.0.1']],
      ['other-v4', ['192.168.8.10']],
      ['other-v6', ['fd00:7:7:8::10']],
    ] as const) {
      const n = await node(name, { addresses: [...addresses] });
      await holds(n.id, digest);
    }
    const labelled = await node('labelled', { site: 'berlin', addresses: ['192.168.7.11'] });
    await holds(labelled.id, digest);
    expect(names(await plan(services.deps, readerJob)).sort()).toEqual(['same-v4', 'same-v6']);

    // Simulated Macs on loopback: every 127.x address is one subnet.
    const loopDigest = newDigest();
    const loopReader = await node('loop-reader', { addresses: ['127.0.0.20'] });
    const loopJob = await job(loopReader.id, loopDigest);
    const loopPeer = await node('loop-peer', { addresses: ['127.0.0.21'] });
    await holds(loopPeer.id, loopDigest);
    expect(names(await plan(services.deps, loopJob))).toEqual(['loop-peer']);
  });

  it('offers the fetchers that reported more verified pieces first (roughly: by tenths), then the least loaded', async () => {
    const digest = newDigest();
    const reader = await node('reader', { site: 'lille' });
    const readerJob = await job(reader.id, digest);
    const layer = newDigest();
    const fetchers: [string, number, number][] = [
      ['quarter', 25, 0],
      ['nearly', 95, 3],
      ['half-busy', 50, 2],
      ['half-idle', 52, 0],
      ['none', 0, 0],
    ];
    for (const [name, done, uploadsInFlight] of fetchers) {
      const n = await node(name, { site: 'lille', uploadsInFlight });
      const row = await job(n.id, digest, 'pulling');
      await services.deps.db.syncJob.update({ where: { id: row.id }, data: { pieces: { digest: layer, done, total: 100 } } });
    }
    // A report that is not numbers counts as nothing.
    const odd = await node('odd', { site: 'lille' });
    const oddJob = await job(odd.id, digest, 'pulling');
    await services.deps.db.syncJob.update({ where: { id: oddJob.id }, data: { pieces: { digest: layer, done: 'lots', total: 100 } } });
    const result = await plan(services.deps, readerJob);
    expect(names(result).slice(0, 4)).toEqual(['nearly', 'half-idle', 'half-busy', 'quarter']);
    expect(new Set(names(result).slice(4))).toEqual(new Set(['none', 'odd']));
  });

  it('reports progress pieces through the lifecycle onto the job', async () => {
    const digest = newDigest();
    const n = await node('reporter', { site: 'metz' });
    const row = await job(n.id, digest, 'pulling');
    const pieces = { digest: newDigest(), done: 3, total: 16, bits: Buffer.from([0b11100000, 0]).toString('base64') };
    await applySyncEvent(services.deps, row.id, { type: 'progress', bytesDone: 3, bytesTotal: 16, pieces });
    expect((await services.deps.db.syncJob.findUniqueOrThrow({ where: { id: row.id } })).pieces).toEqual(pieces);
  });

  it('orders holders before fetchers, then by uploads in flight and bytes uploaded, and offers at most 8', async () => {
    const digest = newDigest();
    const reader = await node('reader', { site: 'lyon' });
    const readerJob = await job(reader.id, digest);
    const loads: [string, number, number][] = [
      ['h-busy', 3, 0],
      ['h-idle-big', 0, 5000],
      ['h-idle-small', 0, 10],
      ['h-one', 1, 0],
      ['h-two-a', 2, 100],
      ['h-two-b', 2, 50],
      ['h-four', 4, 0],
      ['h-five', 5, 0],
      ['h-six', 6, 0],
    ];
    for (const [name, uploadsInFlight, uploadedBytes] of loads) {
      const n = await node(name, { site: 'lyon', uploadsInFlight, uploadedBytes });
      await holds(n.id, digest);
    }
    const idleFetcher = await node('f-idle', { site: 'lyon' });
    await job(idleFetcher.id, digest, 'pulling');
    const result = await plan(services.deps, readerJob);
    expect(names(result)).toEqual(['h-idle-small', 'h-idle-big', 'h-one', 'h-two-b', 'h-two-a', 'h-busy', 'h-four', 'h-five']);
    expect(result.candidates.every((c) => c.complete)).toBe(true);
  });

  it("issues each candidate a ticket its peer server accepts from this reader for the job's digest, and nobody else's", async () => {
    const digest = newDigest();
    const reader = await node('reader', { site: 'oslo' });
    const readerJob = await job(reader.id, digest);
    const server = await node('server', { site: 'oslo' });
    await holds(server.id, digest);
    const bystander = await node('bystander', { site: 'oslo' });
    // Planned by the other control process: tickets from both check against the same public key.
    const [candidate] = (await plan(other.deps, readerJob)).candidates;
    expect(candidate?.nodeId).toBe(server.id);
    const publicKey = peerTicketKey(services.deps);
    const check = (expect_: { server?: string; digest?: string; reader?: string }) =>
      checkPeerTicket(candidate!.ticket, { publicKey, server: server.id, digest, reader: reader.id, ...expect_ });
    expect(check({})).toMatchObject({ ok: true, claims: { reader: reader.id, server: server.id, digest } });
    expect(check({ reader: bystander.id })).toEqual({ ok: false, reason: 'other-reader' });
    expect(check({ server: bystander.id })).toEqual({ ok: false, reason: 'other-server' });
    expect(check({ digest: newDigest() })).toEqual({ ok: false, reason: 'other-digest' });
    const otherKey = peerTicketKey({ secretKey: randomBytes(32) });
    expect(checkPeerTicket(candidate!.ticket, { publicKey: otherKey, server: server.id, digest })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('picks exactly k = ceil(wanting / fan-out) origins when 8 jobs of a site plan at once in two control processes, and keeps them', async () => {
    const digest = newDigest();
    const jobs = [];
    for (let i = 0; i < 8; i++) jobs.push(await job((await node(`m${i}`, { site: 'rome', addresses: [`10.5.0.${i + 1}`] })).id, digest));
    // Another site's fetchers of the same digest count for their own site only.
    for (let i = 0; i < 3; i++) {
      const row = await job((await node(`far${i}`, { site: 'madrid' })).id, digest);
      await services.deps.db.syncJob.update({ where: { id: row.id }, data: { origin: true } });
    }
    const plans = await Promise.all(jobs.map((row, i) => plan(i % 2 === 0 ? services.deps : other.deps, row)));
    expect(plans.filter((p) => p.origin)).toHaveLength(2);
    const stored = await services.deps.db.syncJob.findMany({ where: { id: { in: jobs.map((j) => j.id) } } });
    const origins = stored.filter((row) => row.origin).map((row) => row.id).sort();
    expect(origins).toEqual(jobs.filter((_, i) => plans[i]!.origin).map((j) => j.id).sort());
    // Planned again (peers.renew, a retry): an origin stays one, and no third appears.
    const again = await Promise.all(jobs.map((row) => plan(services.deps, row)));
    expect(jobs.filter((_, i) => again[i]!.origin).map((j) => j.id).sort()).toEqual(origins);
    // The fetchers are each other's candidates meanwhile (partial peers).
    expect(again[0]!.candidates).toHaveLength(7);
    expect(again[0]!.candidates.every((c) => !c.complete)).toBe(true);

    // A smaller fan-out asks for more: with 2, k = 4.
    const digest2 = newDigest();
    const jobs2 = [];
    for (let i = 0; i < 8; i++) jobs2.push(await job((await node(`n${i}`, { site: 'naples' })).id, digest2));
    const plans2 = await Promise.all(jobs2.map((row, i) => plan(i % 2 === 0 ? services.deps : other.deps, row, 2)));
    expect(plans2.filter((p) => p.origin)).toHaveLength(4);
  });

  it('stops a node flagged for bad data of the image being an origin, and lets another node take its place', async () => {
    const digest = newDigest();
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await job((await node(`t${i}`, { site: 'turin' })).id, digest));
    // 4 nodes, fan-out 4: one origin.
    const plans = await Promise.all(jobs.map((row) => plan(services.deps, row)));
    const originIndex = plans.findIndex((p) => p.origin);
    expect(plans.filter((p) => p.origin)).toHaveLength(1);
    const bad = jobs[originIndex]!;
    // Others reported it: its condition is on the node (as recordBadPeer writes it).
    await services.deps.db.node.update({
      where: { id: bad.nodeId },
      data: { conditions: [{ type: 'bad-peer-data', digest, reportedBy: 't9', reports: 1, reason: 'piece 3 hashed wrong', since: new Date().toISOString() }] },
    });
    expect((await plan(services.deps, bad)).origin).toBe(false);
    // A process reuses what it read of the group for half a second (a rollout's dispatch storm).
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Its origin slot no longer counts: the next node to plan again becomes the origin.
    const replanned = await Promise.all(jobs.filter((row) => row !== bad).map((row) => plan(services.deps, row)));
    expect(replanned.filter((p) => p.origin)).toHaveLength(1);
    // And it is nobody's candidate.
    expect(replanned.every((p) => p.candidates.every((c) => c.nodeId !== bad.nodeId))).toBe(true);
  });

  it('plans no origin where a node of the site holds the image, and one where nobody holds or fetches it', async () => {
    const digest = newDigest();
    const holder = await node('holder', { site: 'vienna' });
    await holds(holder.id, digest);
    const jobs = [];
    for (let i = 0; i < 6; i++) jobs.push(await job((await node(`w${i}`, { site: 'vienna' })).id, digest));
    const plans = await Promise.all(jobs.map((row, i) => plan(i % 2 === 0 ? services.deps : other.deps, row)));
    expect(plans.map((p) => p.origin)).toEqual(Array(6).fill(false));
    expect(plans.every((p) => p.candidates[0]?.nodeId === holder.id && p.candidates[0].complete)).toBe(true);
    expect(await services.deps.db.syncJob.count({ where: { digest, origin: true } })).toBe(0);

    const alone = await job((await node('alone', { site: 'graz' })).id, digest);
    expect(await plan(services.deps, alone)).toEqual({ origin: true, candidates: [] });
    // A reader without peer facts or a site has no group: it fetches from the registry itself.
    const bare = await job((await node('bare', { noPeer: true })).id, newDigest());
    expect(await plan(services.deps, bare)).toEqual({ origin: true, candidates: [] });
  });

  it('refuses a plan for a job of another node or digest', async () => {
    const digest = newDigest();
    const a = await node('a', { site: 'x' });
    const row = await job(a.id, digest);
    const b = await node('b', { site: 'x' });
    await expect(peerPlanFor(services.deps, { syncJobId: row.id, nodeId: b.id, digest })).rejects.toThrow(/No sync job/);
    await expect(peerPlanFor(services.deps, { syncJobId: row.id, nodeId: a.id, digest: newDigest() })).rejects.toThrow(/No sync job/);
  });
});
