// The control plane as the tracker, through the real gateway and dispatcher (in process, real
// PostgreSQL and Redis, agents reduced to their wire): a dispatched sync names the site's peers
// with tickets, peers.renew answers (and not too often, and only for the node's own job), peer.bad
// flags the peer (audited) unless the reporter has no open job for the image, and sync.done's
// bytes by source land on the job; and a second control process plans alike.
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken, enrollNode } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { checkPeerTicket, generateNodeKeyPair, protocolVersion, type ControlMessage, type HeldImage, type NodeKeyPair } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { peerRenewalIntervalMs } from './gateway/agent-session.ts';
import { startControl, type RunningControl } from './server.ts';
import { testControlConfig } from '../testing/control-config.ts';
import { until } from '../testing/fleet.ts';
import { SimAgent, simFacts } from '../testing/wire.ts';

const admin = { label: 'admin@example.com' };
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const database = useTestDatabase();
const redis = useRedisPrefix();

type SyncMessage = Extract<ControlMessage, { type: 'sync' }>;
type Enrolled = { name: string; nodeId: string; secret: string; keys: NodeKeyPair; address: string };

describe('the tracker through the gateway (real control plane, PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl;
  let registryId: string;
  let token: string;
  const sockets: SimAgent[] = [];
  let hosts = 10;
  let baseConfig: { databaseUrl: string; redisUrl: string; redisPrefix: string; secretKey: string };

  beforeAll(async () => {
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    baseConfig = config;
    services = createServiceDeps(config);
    control = await startControl(testControlConfig(config, log));
    registryId = (await services.deps.db.registry.create({ data: { name: 'sim', host: '127.0.0.1:9', plainHttp: true } })).id;
    ({ token } = await createEnrollmentToken(services.deps, admin, { name: 'tracker' }));
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await control?.close();
    await services?.close();
  });

  async function enroll(name: string, labels: Record<string, string>): Promise<Enrolled> {
    const keys = generateNodeKeyPair();
    const fullName = `${name}-${randomBytes(3).toString('hex')}`;
    return { name: fullName, keys, address: `127.0.0.${++hosts}`, ...(await enrollNode(services.deps, { token, name: fullName, labels, publicKey: keys.publicKey })) };
  }

  /** A simulated agent whose facts name a peer server on its own loopback address. */
  async function connect(node: Enrolled, images: HeldImage[] = []) {
    const agent = await SimAgent.open(control.url, `${node.nodeId}.${node.secret}`);
    sockets.push(agent);
    const facts = { ...simFacts, peer: { port: 7941, addresses: [node.address], uploadedBytes: 0, uploadsInFlight: 0 } };
    agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: node.keys.publicKey, facts, images, activeJobs: [] });
    const welcome = (await agent.next((m) => m.type === 'welcome')) as Extract<ControlMessage, { type: 'welcome' }>;
    return Object.assign(agent, { welcome });
  }

  const held = (digest: string): HeldImage => ({ digest, tags: [], sizeBytes: 1024, verifiedAt: new Date().toISOString() });

  /** A project for one suite label with a fresh pinned digest, reconciled. */
  async function pin(suite: string): Promise<string> {
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    const { db } = services.deps;
    const team = await db.team.create({ data: { name: suite } });
    const project = await db.project.create({ data: { name: suite, teamId: team.id, nodeSelector: { suite } } });
    await db.pin.create({ data: { projectId: project.id, registryId, reference: `127.0.0.1:9/sim/macos:${suite}`, repository: 'sim/macos', tag: suite, digest, resolvedAt: new Date() } });
    await services.deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: 'test pin' });
    return digest;
  }

  it('sends peers with the sync, renews them (rate-limited, own jobs only), takes peer.bad from a fetching node only, and keeps sync.done\'s sources', async () => {
    const suite = `tracker-${randomBytes(3).toString('hex')}`;
    const holderNode = await enroll('holder', { suite: `${suite}-none`, site: 'berlin' });
    const readerNode = await enroll('reader', { suite, site: 'berlin' });
    const farNode = await enroll('far', { suite: `${suite}-far`, site: 'paris' });
    const bystanderNode = await enroll('bystander', { suite: `${suite}-none`, site: 'berlin' });
    // The holder, and a node of another site, hold the image before it is pinned.
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    await connect(holderNode, [held(digest)]);
    await connect(farNode, [held(digest)]);
    const bystander = await connect(bystanderNode);
    const reader = await connect(readerNode);
    // Pin the held digest for the reader's suite only.
    const { db } = services.deps;
    const team = await db.team.create({ data: { name: suite } });
    const project = await db.project.create({ data: { name: suite, teamId: team.id, nodeSelector: { suite } } });
    await db.pin.create({ data: { projectId: project.id, registryId, reference: `127.0.0.1:9/sim/macos:${suite}`, repository: 'sim/macos', tag: suite, digest, resolvedAt: new Date() } });
    await services.deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: 'test pin' });

    const sync = (await reader.next((m) => m.type === 'sync' && m.digest === digest, 20_000)) as SyncMessage;
    // Only the holder of its own site: the other site's holder is never offered.
    expect(sync.peers).toMatchObject({ origin: false, candidates: [{ nodeId: holderNode.nodeId, name: holderNode.name, urls: [`http://${holderNode.address}:7941`], complete: true }] });
    const ticket = sync.peers!.candidates[0]!.ticket;
    const publicKey = reader.welcome.peerTicketKey!;
    expect(checkPeerTicket(ticket, { publicKey, server: holderNode.nodeId, digest, reader: readerNode.nodeId }).ok).toBe(true);
    expect(checkPeerTicket(ticket, { publicKey, server: holderNode.nodeId, digest, reader: bystanderNode.nodeId })).toEqual({ ok: false, reason: 'other-reader' });

    // peers.renew: answered for the node's own job, then not again within the interval.
    reader.send({ type: 'peers.renew', jobId: sync.jobId });
    const renewed = (await reader.next((m) => m.type === 'peers')) as Extract<ControlMessage, { type: 'peers' }>;
    expect(renewed).toMatchObject({ jobId: sync.jobId, peers: { origin: false, candidates: [{ nodeId: holderNode.nodeId, complete: true }] } });
    reader.send({ type: 'peers.renew', jobId: sync.jobId });
    expect(await reader.next((m) => m.type === 'error')).toMatchObject({ code: 'RATE_LIMITED' });
    // Someone else's job: no peers, no tickets.
    bystander.send({ type: 'peers.renew', jobId: sync.jobId });
    expect(await bystander.next((m) => m.type === 'error')).toMatchObject({ code: 'NOT_FOUND' });
    expect(bystander.messages.some((m) => m.type === 'peers')).toBe(false);

    // peer.bad from a node with no job for the image: ignored.
    bystander.send({ type: 'peer.bad', jobId: sync.jobId, nodeId: holderNode.nodeId, digest, reason: 'made up' });
    // peer.bad from the reader, whose job is open: the holder is flagged and the report audited.
    reader.send({ type: 'peer.bad', jobId: sync.jobId, nodeId: holderNode.nodeId, digest, reason: 'piece 0 did not match its digest' });
    const flagged = await until('the holder flagged', async () => {
      const row = await db.node.findUniqueOrThrow({ where: { id: holderNode.nodeId } });
      return (row.conditions as unknown[]).length > 0 ? row.conditions : undefined;
    }, 5_000);
    expect(flagged).toEqual([expect.objectContaining({ type: 'bad-peer-data', digest, reportedBy: readerNode.name, reports: 1, reason: 'piece 0 did not match its digest' })]);
    const audit = await db.auditEvent.findMany({ where: { action: 'node.bad-peer-data', targetId: holderNode.nodeId } });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: `node:${readerNode.name}`, after: expect.objectContaining({ reporter: readerNode.name, digest }) });

    // Renewed after the interval: the flagged holder is no longer offered, so this job fetches from the registry.
    await new Promise((resolve) => setTimeout(resolve, peerRenewalIntervalMs + 100));
    reader.send({ type: 'peers.renew', jobId: sync.jobId });
    expect(await reader.next((m) => m.type === 'peers')).toMatchObject({ peers: { origin: true, candidates: [] } });
    expect((await db.syncJob.findUniqueOrThrow({ where: { id: sync.jobId } })).origin).toBe(true);

    // Done, with the bytes by source.
    reader.send({
      type: 'sync.done',
      jobId: sync.jobId,
      digest,
      image: held(digest),
      bytesFetched: 1024,
      sources: { registry: 100, mirror: 0, peers: { [holderNode.nodeId]: 924 } },
    });
    const row = await until('the job done', async () => {
      const job = await db.syncJob.findUniqueOrThrow({ where: { id: sync.jobId } });
      return job.state === 'done' ? job : undefined;
    }, 5_000);
    expect(row).toMatchObject({ bytesFromRegistry: 100n, bytesFromMirror: 0n, bytesFromPeers: 924n, peerSources: { [holderNode.nodeId]: 924 } });
    // The bystander's report never counted.
    expect((await db.auditEvent.count({ where: { action: 'node.bad-peer-data' } }))).toBe(1);
  });

  it('dispatches without peers, as an origin, where nobody of the site holds or fetches the image', async () => {
    const suite = `lonely-${randomBytes(3).toString('hex')}`;
    const node = await enroll('lonely', { suite, site: 'oslo' });
    const agent = await connect(node);
    const digest = await pin(suite);
    const sync = (await agent.next((m) => m.type === 'sync' && m.digest === digest, 20_000)) as SyncMessage;
    expect(sync.peers).toEqual({ origin: true, candidates: [] });
  });

  it('plans across two control processes: a holder connected to one is offered to a reader on the other, with a ticket the holder can check', async () => {
    // The same database, Redis and secret key: another replica of the control plane.
    const second = await startControl(testControlConfig(baseConfig, log));
    try {
      const suite = `two-${randomBytes(3).toString('hex')}`;
      const holderNode = await enroll('holder2', { suite: `${suite}-none`, site: 'lyon' });
      const readerNode = await enroll('reader2', { suite, site: 'lyon' });
      const digest = `sha256:${randomBytes(32).toString('hex')}`;
      // The holder talks to the first control process, the reader to the second.
      const holder = await connect(holderNode, [held(digest)]);
      const readerSocket = await SimAgent.open(second.url, `${readerNode.nodeId}.${readerNode.secret}`);
      sockets.push(readerSocket);
      readerSocket.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: readerNode.keys.publicKey, facts: { ...simFacts, peer: { port: 7941, addresses: [readerNode.address], uploadedBytes: 0, uploadsInFlight: 0 } }, images: [], activeJobs: [] });
      await readerSocket.next((m) => m.type === 'welcome');
      const { db } = services.deps;
      const team = await db.team.create({ data: { name: suite } });
      const project = await db.project.create({ data: { name: suite, teamId: team.id, nodeSelector: { suite } } });
      await db.pin.create({ data: { projectId: project.id, registryId, reference: `127.0.0.1:9/sim/macos:${suite}`, repository: 'sim/macos', tag: suite, digest, resolvedAt: new Date() } });
      await services.deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: 'test pin' });

      const sync = (await readerSocket.next((m) => m.type === 'sync' && m.digest === digest, 20_000)) as SyncMessage;
      expect(sync.peers).toMatchObject({ origin: false, candidates: [{ nodeId: holderNode.nodeId, complete: true }] });
      // Whichever process signed it, the holder checks it with the key its own control process sent.
      const check = checkPeerTicket(sync.peers!.candidates[0]!.ticket, { publicKey: holder.welcome.peerTicketKey!, server: holderNode.nodeId, digest, reader: readerNode.nodeId });
      expect(check.ok).toBe(true);
      // And a renewal answered by the reader's process plans the same.
      readerSocket.send({ type: 'peers.renew', jobId: sync.jobId });
      expect(await readerSocket.next((m) => m.type === 'peers')).toMatchObject({ peers: { origin: false, candidates: [{ nodeId: holderNode.nodeId }] } });
    } finally {
      await second.close();
    }
  });
});
