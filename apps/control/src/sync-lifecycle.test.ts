// The sync job lifecycle through the real control plane (in process, real PostgreSQL and Redis),
// with agents reduced to their wire (SimAgent) so each test says exactly what the agent does: the
// stall timeout, failures an agent reports, the per-node and fleet-wide pull limits, a protocol
// version mismatch, pin removal cancelling what is no longer wanted, and an agent's reconnect
// (what it still runs is not sent again, what was cancelled while it was away is dropped).
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { agentCommandsChannel, cancelSyncJob, createEnrollmentToken, enrollNode, removePin, ticketForPeer } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { checkPeerTicket, CloseCode, generateNodeKeyPair, protocolVersion, type ControlMessage, type NodeKeyPair } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type ControlConfig, type RunningControl } from './server.ts';
import { testControlConfig } from '../testing/control-config.ts';
import { until } from '../testing/fleet.ts';
import { SimAgent, simFacts } from '../testing/wire.ts';

const admin = { label: 'admin@example.com' };
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });

type SyncMessage = Extract<ControlMessage, { type: 'sync' }>;

/** A control plane, nodes with simulated agents, and every command published for agents. */
function useLifecycle(overrides: Partial<ControlConfig>) {
  // A database and a Redis prefix per control plane: jobs and nodes one leaves behind must not take
  // the next one's pull slots (its startup reconcile would dispatch them).
  const database = useTestDatabase();
  const redis = useRedisPrefix();
  const ctx = {} as {
    services: ReturnType<typeof createServiceDeps>;
    control: RunningControl;
    registryId: string;
    token: string;
    listener: Redis;
    commands: { nodeId: string; message: ControlMessage }[];
    sockets: SimAgent[];
  };
  let suites = 0;
  let digests = 0;

  beforeAll(async () => {
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    ctx.services = createServiceDeps(config);
    ctx.control = await startControl({ ...testControlConfig(config, log), ...overrides });
    ctx.registryId = (await ctx.services.deps.db.registry.upsert({ where: { host: '127.0.0.1:9' }, create: { name: 'sim', host: '127.0.0.1:9', plainHttp: true }, update: {} })).id;
    ({ token: ctx.token } = await createEnrollmentToken(ctx.services.deps, admin, { name: 'lifecycle' }));
    ctx.commands = [];
    ctx.sockets = [];
    ctx.listener = new Redis(redis.url);
    ctx.listener.on('message', (_channel: string, raw: string) => ctx.commands.push(JSON.parse(raw)));
    await ctx.listener.subscribe(agentCommandsChannel(redis.prefix));
  });
  afterEach(() => {
    for (const socket of ctx.sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    ctx.listener?.disconnect();
    await ctx.control?.close();
    await ctx.services?.close();
  });

  /** A project of its own, served by `count` fresh nodes (enrolled, not connected). */
  async function suite(count: number) {
    const label = `suite-${++suites}-${randomBytes(3).toString('hex')}`;
    const { db } = ctx.services.deps;
    const team = await db.team.create({ data: { name: label } });
    const project = await db.project.create({ data: { name: label, teamId: team.id, nodeSelector: { suite: label } } });
    const nodes: { name: string; nodeId: string; secret: string; keys: NodeKeyPair }[] = [];
    for (let i = 1; i <= count; i++) {
      const keys = generateNodeKeyPair();
      const name = `${label}-${i}`;
      nodes.push({ name, keys, ...(await enrollNode(ctx.services.deps, { token: ctx.token, name, labels: { suite: label }, publicKey: keys.publicKey })) });
    }
    return { projectId: project.id, nodes };
  }

  /** Connects a simulated agent that says it still runs `activeJobs`; the welcome it got rides along. */
  async function connect(node: { nodeId: string; secret: string; keys: NodeKeyPair }, activeJobs: string[] = []) {
    const agent = await SimAgent.open(ctx.control.url, `${node.nodeId}.${node.secret}`);
    ctx.sockets.push(agent);
    agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: node.keys.publicKey, facts: simFacts, images: [], activeJobs });
    const welcome = (await agent.next((m) => m.type === 'welcome')) as Extract<ControlMessage, { type: 'welcome' }>;
    return Object.assign(agent, { welcome });
  }

  /** Pins a fresh digest in the project and reconciles it; returns the digest. */
  async function pin(projectId: string): Promise<{ digest: string; pinId: string }> {
    const digest = `sha256:${randomBytes(30).toString('hex')}${String(++digests).padStart(4, '0')}`;
    const row = await ctx.services.deps.db.pin.create({
      data: { projectId, registryId: ctx.registryId, reference: `127.0.0.1:9/sim/macos:${digests}`, repository: 'sim/macos', tag: String(digests), digest, resolvedAt: new Date() },
    });
    await ctx.services.deps.queues.add('reconcile', { scope: 'project', id: projectId, reason: 'test pin' });
    return { digest, pinId: row.id };
  }

  const jobById = (id: string) => ctx.services.deps.db.syncJob.findUniqueOrThrow({ where: { id } });
  const jobOf = (nodeId: string, digest: string) => ctx.services.deps.db.syncJob.findFirstOrThrow({ where: { nodeId, digest }, orderBy: { createdAt: 'desc' } });
  const done = (agent: SimAgent, sync: SyncMessage) =>
    agent.send({ type: 'sync.done', jobId: sync.jobId, digest: sync.digest, image: { digest: sync.digest, tags: [], sizeBytes: 1024, verifiedAt: new Date().toISOString() }, bytesFetched: 1024 });
  const nextSync = async (agent: SimAgent, digest?: string, timeoutMs = 20_000) => (await agent.next((m) => m.type === 'sync' && (!digest || m.digest === digest), timeoutMs)) as SyncMessage;

  /**
   * Every command published for agents up to now: a marker published after the moment asked about
   * arrives after anything published before it, so what precedes it is complete.
   */
  async function commandsSoFar(): Promise<{ nodeId: string; message: ControlMessage }[]> {
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    await ctx.services.deps.redis.publish(agentCommandsChannel(redis.prefix), JSON.stringify({ nodeId: marker, message: { type: 'error', code: 'x', message: 'x' } }));
    await until('the marker', async () => ctx.commands.some((c) => c.nodeId === marker), 5_000);
    return ctx.commands.filter((c) => !c.nodeId.startsWith('marker-'));
  }
  const syncsOf = async (jobId: string) => (await commandsSoFar()).filter((c) => c.message.type === 'sync' && c.message.jobId === jobId);
  /**
   * The job's BullMQ entry is gone: its dispatcher finished with it (and sent whatever it was going
   * to). A later reconcile may queue the same key again for a new row (its digest still pinned):
   * an entry carrying another row's id does not count.
   */
  const settled = (row: { key: string; id: string }) =>
    until(
      `queue entry ${row.key} to finish`,
      async () => (await ctx.services.deps.queues.queue('sync').getJob(row.key))?.data.syncJobId !== row.id,
      20_000,
    );

  return { ctx, suite, connect, pin, jobById, jobOf, done, nextSync, commandsSoFar, syncsOf, settled };
}

describe('an agent that says nothing, or reports a failure (stall timeout 1.5 s)', () => {
  const t = useLifecycle({ syncStallTimeoutMs: 1_500 });

  it('retries a job whose agent goes silent after the stall timeout, as another attempt, and finishes it when the agent reports', async () => {
    const { projectId, nodes } = await t.suite(1);
    const agent = await t.connect(nodes[0]!);
    const { digest } = await t.pin(projectId);
    const first = await t.nextSync(agent, digest);
    // Silence: the job goes back to the queue with the stall's words, and is sent again (attempt 2).
    const stalled = await until('the stall', async () => {
      const row = await t.jobOf(nodes[0]!.nodeId, digest);
      return row.error?.startsWith(`No word from node ${nodes[0]!.name} for 2 s`) ? row : undefined;
    });
    expect(stalled.attempts).toBe(1);
    const second = await t.nextSync(agent, digest);
    expect(second.jobId).toBe(first.jobId);
    expect(await t.jobOf(nodes[0]!.nodeId, digest)).toMatchObject({ state: 'dispatched', attempts: 2, error: null });
    t.done(agent, second);
    await until('done', async () => (await t.jobOf(nodes[0]!.nodeId, digest)).state === 'done');
    expect(await t.jobOf(nodes[0]!.nodeId, digest)).toMatchObject({ attempts: 2, error: null, bytesDone: 1024n });
  }, 40_000);

  it('an agent-reported failure is retried when another attempt may help, and fails once when it cannot', async () => {
    const { projectId, nodes } = await t.suite(1);
    const agent = await t.connect(nodes[0]!);
    const retryable = await t.pin(projectId);
    const permanent = await t.pin(projectId);
    const r1 = await t.nextSync(agent, retryable.digest);
    const p1 = await t.nextSync(agent, permanent.digest);
    agent.send({ type: 'sync.failed', jobId: r1.jobId, code: 'NETWORK', message: 'the registry reset the connection', retryable: true });
    agent.send({ type: 'sync.failed', jobId: p1.jobId, code: 'NOT_FOUND', message: 'no such manifest', retryable: false });

    // By id: a later reconcile may queue a new job for the failed digest (failed is not open), which jobOf would find.
    await until('the permanent failure', async () => (await t.jobById(p1.jobId)).state === 'failed');
    await t.settled(await t.jobById(p1.jobId));
    expect(await t.jobById(p1.jobId)).toMatchObject({ state: 'failed', attempts: 1, error: 'no such manifest' });
    expect(await t.syncsOf(p1.jobId)).toHaveLength(1);

    // The retryable one waits in the queue with the agent's words, then comes back as attempt 2.
    expect(await t.jobById(r1.jobId)).toMatchObject({ state: 'queued', error: 'the registry reset the connection' });
    const r2 = await t.nextSync(agent, retryable.digest);
    expect(await t.jobById(r1.jobId)).toMatchObject({ state: 'dispatched', attempts: 2 });
    t.done(agent, r2);
    await until('the retried job done', async () => (await t.jobById(r1.jobId)).state === 'done');
  }, 40_000);
});

describe('the per-node pull limit (two per node, ten in the fleet)', () => {
  // The fleet-wide limit is set above the node's, so what holds the third job back is the node's limit alone.
  const t = useLifecycle({ syncStallTimeoutMs: 30_000, maxConcurrentPulls: 10, maxPullsPerNode: 2 });

  it('holds a node to two pulls at once: the third job waits (delayed, no attempt spent) until one finishes', async () => {
    const { projectId, nodes } = await t.suite(1);
    const agent = await t.connect(nodes[0]!);
    const pins = [await t.pin(projectId), await t.pin(projectId), await t.pin(projectId)];
    const first = await t.nextSync(agent);
    const second = await t.nextSync(agent);
    const waiting = pins.find((p) => p.digest !== first.digest && p.digest !== second.digest)!;
    // Each pin has its reconcile: the third job's row may come a moment after the first two were sent.
    const held = await until('the third job', async () => (await t.ctx.services.deps.db.syncJob.findFirst({ where: { nodeId: nodes[0]!.nodeId, digest: waiting.digest } })) ?? undefined);
    await until('the third job to wait for a slot', async () => (await t.ctx.services.deps.queues.queue('sync').getJob(held.key))?.isDelayed());
    expect(await t.jobOf(nodes[0]!.nodeId, waiting.digest)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(await t.syncsOf(held.id)).toEqual([]);
    t.done(agent, first);
    const third = await t.nextSync(agent, waiting.digest);
    expect(await t.jobOf(nodes[0]!.nodeId, waiting.digest)).toMatchObject({ state: 'dispatched', attempts: 1 });
    t.done(agent, second);
    t.done(agent, third);
    await until('all done', async () => (await t.ctx.services.deps.db.syncJob.count({ where: { nodeId: nodes[0]!.nodeId, state: 'done' } })) === 3);
  }, 40_000);
});

describe('the fleet-wide pull limit, version mismatch, pin removal and reconnects (stall timeout 30 s)', () => {
  const t = useLifecycle({ syncStallTimeoutMs: 30_000, maxConcurrentPulls: 2, maxPullsPerNode: 2 });

  it('refuses an agent speaking another protocol version, in words, and leaves its node offline', async () => {
    const { nodes } = await t.suite(1);
    const agent = await SimAgent.open(t.ctx.control.url, `${nodes[0]!.nodeId}.${nodes[0]!.secret}`);
    t.ctx.sockets.push(agent);
    agent.send({ type: 'hello', protocol: protocolVersion + 1, agentVersion: 'future', publicKey: nodes[0]!.keys.publicKey, facts: simFacts, images: [], activeJobs: [] });
    expect(await agent.next((m) => m.type === 'error')).toEqual({
      type: 'error',
      code: 'PROTOCOL',
      message: `This control plane speaks protocol ${protocolVersion}; the agent speaks ${protocolVersion + 1}. Upgrade the agent.`,
    });
    expect(await agent.closed).toMatchObject({ code: CloseCode.protocolMismatch });
    expect(await t.ctx.services.deps.db.node.findUniqueOrThrow({ where: { id: nodes[0]!.nodeId } })).toMatchObject({ state: 'offline', agentVersion: null, lastSeenAt: null });
    expect((await fetch(`${t.ctx.control.url}/healthz`)).status).toBe(200);
  });

  it('holds the fleet to two pulls at once: a third node waits in the queue until a pull anywhere finishes', async () => {
    const { projectId, nodes } = await t.suite(3);
    const agents = await Promise.all(nodes.map((n) => t.connect(n)));
    const { digest } = await t.pin(projectId);
    const received: { i: number; m: SyncMessage }[] = [];
    for (const [i, agent] of agents.entries()) void t.nextSync(agent, digest, 30_000).then((m) => received.push({ i, m }), () => {});
    await until('two nodes to have their job', async () => received.length >= 2);
    const queue = t.ctx.services.deps.queues.queue('sync');
    const rows = await Promise.all(nodes.map((n) => t.jobOf(n.nodeId, digest)));
    const left = rows.find((_, i) => !received.some((r) => r.i === i))!;
    await until('the third to be waiting, not active', async () => (await (await queue.getJob(left.key))?.getState()) === 'waiting');
    expect(await queue.getActiveCount()).toBe(2);
    expect(await t.syncsOf(left.id)).toEqual([]);
    expect(left).toMatchObject({ state: 'queued', attempts: 0 });
    t.done(agents[received[0]!.i]!, received[0]!.m);
    await until('the third node to get its job', async () => received.length === 3);
    for (const { i, m } of received.slice(1)) t.done(agents[i]!, m);
    await until('all done', async () => (await t.ctx.services.deps.db.syncJob.count({ where: { digest, state: 'done' } })) === 3);
  }, 40_000);

  it('welcomes an agent with the peer ticket key: tickets any control process with this secret issues check against it', async () => {
    const { nodes } = await t.suite(2);
    const agent = await t.connect(nodes[0]!);
    const key = agent.welcome.peerTicketKey!;
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const digest = `sha256:${'c'.repeat(64)}`;
    // Issued by the test's own service deps: another process than the control plane, same secret.
    const grant = { reader: nodes[1]!.nodeId, server: nodes[0]!.nodeId, digest };
    expect(checkPeerTicket(ticketForPeer(t.ctx.services.deps, grant), { publicKey: key, server: nodes[0]!.nodeId, digest, reader: nodes[1]!.nodeId }).ok).toBe(true);
    const foreign = ticketForPeer({ secretKey: randomBytes(32) }, grant);
    expect(checkPeerTicket(foreign, { publicKey: key, server: nodes[0]!.nodeId, digest })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('a removed pin cancels its jobs: the agent running one is told and it is cancelled once it confirms; one never sent is cancelled at once', async () => {
    const { projectId, nodes } = await t.suite(2);
    const online = await t.connect(nodes[0]!);
    const { digest, pinId } = await t.pin(projectId);
    const sync = await t.nextSync(online, digest);
    online.send({ type: 'sync.progress', jobId: sync.jobId, phase: 'downloading', bytesDone: 10, bytesTotal: 1000 });
    await until('pulling', async () => (await t.jobOf(nodes[0]!.nodeId, digest)).state === 'pulling');
    const offlineJob = await t.jobOf(nodes[1]!.nodeId, digest); // its node never connected: queued
    expect(offlineJob.state).toBe('queued');

    await removePin(t.ctx.services.deps, admin, pinId);
    const cancel = await online.next((m) => m.type === 'cancel' && m.jobId === sync.jobId);
    expect(cancel).toEqual({ type: 'cancel', jobId: sync.jobId, reason: 'no pin asks for this image any more' });
    expect(await t.jobOf(nodes[0]!.nodeId, digest)).toMatchObject({ state: 'cancelling', error: 'no pin asks for this image any more', finishedAt: null });
    await until('the never-sent job cancelled', async () => (await t.jobOf(nodes[1]!.nodeId, digest)).state === 'cancelled');
    expect(await t.ctx.services.deps.queues.queue('sync').getJob(offlineJob.key)).toBeUndefined();

    online.send({ type: 'sync.cancelled', jobId: sync.jobId });
    await until('cancelled on confirmation', async () => (await t.jobOf(nodes[0]!.nodeId, digest)).state === 'cancelled');
    await t.settled(await t.jobOf(nodes[0]!.nodeId, digest));
    expect(await t.syncsOf(sync.jobId)).toHaveLength(1);
  }, 40_000);

  it('on reconnect, a job the agent still runs is not sent again, and one cancelled while it was away is dropped', async () => {
    const { projectId, nodes } = await t.suite(1);
    const node = nodes[0]!;
    let agent = await t.connect(node);
    const kept = await t.pin(projectId);
    const dropped = await t.pin(projectId);
    const keptSync = await t.nextSync(agent, kept.digest);
    const droppedSync = await t.nextSync(agent, dropped.digest);
    agent.close(); // the connection drops; the agent (in this story) goes on pulling both
    await until('the node offline', async () => (await t.ctx.services.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } })).state === 'offline');
    expect(await cancelSyncJob(t.ctx.services.deps, admin, droppedSync.jobId)).toMatchObject({ state: 'cancelling' });

    agent = await t.connect(node, [keptSync.jobId, droppedSync.jobId, '00000000-0000-4000-8000-000000000000']);
    // The welcome tells it to drop the cancelled one (and one that was never a job); it confirms, and that ends it.
    expect(agent.welcome.drop).toEqual([droppedSync.jobId, '00000000-0000-4000-8000-000000000000']);
    expect(await t.jobById(droppedSync.jobId)).toMatchObject({ state: 'cancelling' });
    agent.send({ type: 'sync.cancelled', jobId: droppedSync.jobId });
    // By id: its pin still wants the digest, so the reconcile that follows queues a new job for it.
    await until('the dropped job cancelled', async () => (await t.jobById(droppedSync.jobId)).state === 'cancelled');
    // The kept one is adopted: still pulling, same attempt, and finishing it needs no second sync.
    expect(await t.jobOf(node.nodeId, kept.digest)).toMatchObject({ state: 'pulling', attempts: 1 });
    agent.send({ type: 'sync.progress', jobId: keptSync.jobId, phase: 'downloading', bytesDone: 512, bytesTotal: 1024 });
    t.done(agent, keptSync);
    await until('the kept job done', async () => (await t.jobOf(node.nodeId, kept.digest)).state === 'done');
    await t.settled(await t.jobOf(node.nodeId, kept.digest));
    expect(await t.syncsOf(keptSync.jobId)).toHaveLength(1);
    expect(await t.jobOf(node.nodeId, kept.digest)).toMatchObject({ attempts: 1 });
  }, 40_000);

  it('on reconnect, a job the agent lost (it restarted) is sent again without spending an attempt; one cancelled while it was away and not running is cancelled at its hello', async () => {
    const { projectId, nodes } = await t.suite(1);
    const node = nodes[0]!;
    let agent = await t.connect(node);
    const lost = await t.pin(projectId);
    const gone = await t.pin(projectId);
    const lostSync = await t.nextSync(agent, lost.digest);
    const goneSync = await t.nextSync(agent, gone.digest);
    agent.close();
    await until('the node offline', async () => (await t.ctx.services.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } })).state === 'offline');
    await cancelSyncJob(t.ctx.services.deps, admin, goneSync.jobId);
    expect(await t.jobById(goneSync.jobId)).toMatchObject({ state: 'cancelling' });

    agent = await t.connect(node, []); // a fresh agent process: it runs nothing
    expect(agent.welcome.drop).toEqual([]);
    expect(await t.jobById(goneSync.jobId)).toMatchObject({ state: 'cancelled' });
    const again = await t.nextSync(agent, lost.digest);
    expect(again.jobId).toBe(lostSync.jobId);
    expect(await t.jobOf(node.nodeId, lost.digest)).toMatchObject({ state: 'dispatched', attempts: 1 });
    t.done(agent, again);
    await until('done', async () => (await t.jobOf(node.nodeId, lost.digest)).state === 'done');
    expect(await t.syncsOf(goneSync.jobId)).toHaveLength(1);
  }, 40_000);
});
