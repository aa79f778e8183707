// Node identity on live sockets (control plane in process, real PostgreSQL and Redis): revocation
// closes the socket at once and the agent gets 403 after; a rotated secret reaches the agent
// sealed, the socket closes when it is stored, and the next connection retires the old secret;
// a replacement cuts off the old agent but not the new one; grant.renew only for the node's own
// unfinished jobs.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@cider/agent/agent';
import { writeAgentConfig } from '@cider/agent/config';
import { enroll } from '@cider/agent/enroll';
import { createServiceDeps } from '@cider/api';
import { allowNodeReplacement, createEnrollmentToken, disconnectNode, enrollNode, revokeNode, rotateNodeSecret } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { CloseCode, generateNodeKeyPair, openSealedBox, secretContext, syncJobKey, type NodeKeyPair } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type RunningControl } from '../server.ts';
import { until } from '../../testing/fleet.ts';
import { SimAgent, simFacts } from '../../testing/wire.ts';
import { testControlConfig } from '../../testing/control-config.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const admin = { label: 'admin@example.com' };

describe('node identity on live sockets (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl;
  let token: string;
  const sockets: SimAgent[] = [];

  async function enrolled(name: string): Promise<{ nodeId: string; secret: string; keys: NodeKeyPair }> {
    const keys = generateNodeKeyPair();
    const node = await enrollNode(services.deps, { token, name, labels: {}, publicKey: keys.publicKey });
    return { ...node, keys };
  }
  async function connect(nodeId: string, secret: string, keys: NodeKeyPair): Promise<SimAgent> {
    const agent = await SimAgent.connect(control.url, `${nodeId}.${secret}`, keys);
    sockets.push(agent);
    return agent;
  }
  const refusedWith = (nodeId: string, secret: string) =>
    SimAgent.open(control.url, `${nodeId}.${secret}`).then(
      (agent) => (agent.close(), 101),
      (error: { status?: number }) => error.status,
    );

  beforeAll(async () => {
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    services = createServiceDeps(config);
    control = await startControl(testControlConfig(config, pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' })));
    ({ token } = await createEnrollmentToken(services.deps, admin, { name: 'identity' }));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await control?.close();
    await services?.close();
  });

  it('revocation closes the live socket at once (4403) and the agent gets 403 on reconnect', async () => {
    const node = await enrolled('revoked-mac');
    const agent = await connect(node.nodeId, node.secret, node.keys);
    await revokeNode(services.deps, admin, { nodeId: node.nodeId });
    expect(await agent.closed).toMatchObject({ code: CloseCode.revoked });
    expect(await refusedWith(node.nodeId, node.secret)).toBe(403);
  });

  it('rotation: the sealed secret reaches the agent, secret.stored closes the socket (4410), the new secret works and the old one no longer does', async () => {
    const node = await enrolled('rotating-mac');
    const agent = await connect(node.nodeId, node.secret, node.keys);
    await rotateNodeSecret(services.deps, admin, { nodeId: node.nodeId });
    const message = await agent.next((m) => m.type === 'secret');
    const secret = openSealedBox(node.keys, (message as { sealed: string }).sealed, secretContext(node.nodeId));
    agent.send({ type: 'secret.stored' });
    expect(await agent.closed).toMatchObject({ code: CloseCode.secretRotated });

    await connect(node.nodeId, secret, node.keys);
    expect(await refusedWith(node.nodeId, node.secret)).toBe(401);
    expect((await services.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } })).pendingSecretHash).toBeNull();
  });

  it('the real agent stores a rotated secret, reconnects with it, and its old secret is refused', async () => {
    const work = await mkdtemp(join(tmpdir(), 'cider-rotate-'));
    const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
    let agent: Agent | undefined;
    try {
      const config = await enroll({ server: control.url, token, name: 'real-rotating-mac', labels: {}, cacheDir: join(work, 'cache') });
      const configPath = join(work, 'agent.json');
      await writeAgentConfig(configPath, config);
      agent = new Agent({ config, configPath, log, reconnectBaseMs: 100, reconnectMaxMs: 500 });
      const connected = agent.whenConnected();
      await agent.start();
      await connected;
      await rotateNodeSecret(services.deps, admin, { nodeId: config.nodeId });
      const node = await until('the new secret to be in use', async () => {
        const row = await services.deps.db.node.findUniqueOrThrow({ where: { id: config.nodeId } });
        return row.pendingSecretHash === null && row.state === 'online' && agent!.connected && agent!.config.secret !== config.secret ? row : undefined;
      });
      expect(node.revokedAt).toBeNull();
      expect(JSON.parse(await readFile(configPath, 'utf8'))).toMatchObject({ secret: agent.config.secret });
      expect(await refusedWith(config.nodeId, config.secret)).toBe(401);
    } finally {
      await agent?.stop();
      await rm(work, { recursive: true, force: true });
    }
  });

  it("a replacement cuts off the old agent (4401) and keeps the new one connected; the old secret is refused", async () => {
    const old = await enrolled('reinstalled-mac');
    const oldAgent = await connect(old.nodeId, old.secret, old.keys);
    await allowNodeReplacement(services.deps, admin, { nodeId: old.nodeId });
    const fresh = await enrolled('reinstalled-mac');
    expect(fresh.nodeId).toBe(old.nodeId);
    expect(await oldAgent.closed).toMatchObject({ code: CloseCode.unauthorized });
    const newAgent = await connect(fresh.nodeId, fresh.secret, fresh.keys);
    expect(await refusedWith(old.nodeId, old.secret)).toBe(401);
    // Redis may deliver the replacement's notice late, after the new agent connected: it names
    // only enrollments before the replacement, so it must leave the new agent alone. Replay it
    // now, then a notice for another node on the same channel: once that one's socket closes,
    // the gateway has handled the replayed notice too.
    const { enrolledAt } = await services.deps.db.node.findUniqueOrThrow({ where: { id: fresh.nodeId } });
    await disconnectNode(services.deps, fresh.nodeId, 'this node was replaced by a new enrollment', CloseCode.unauthorized, enrolledAt);
    const sentinel = await enrolled('sentinel-mac');
    const sentinelAgent = await connect(sentinel.nodeId, sentinel.secret, sentinel.keys);
    await disconnectNode(services.deps, sentinel.nodeId, 'sentinel', CloseCode.revoked);
    expect(await sentinelAgent.closed).toMatchObject({ code: CloseCode.revoked });
    expect(newAgent.open).toBe(true);
  });

  it('an agent naming a node key other than its enrolled one is refused (4401)', async () => {
    const node = await enrolled('key-swapper');
    const agent = await SimAgent.open(control.url, `${node.nodeId}.${node.secret}`);
    sockets.push(agent);
    const before = await services.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } });
    agent.send({ type: 'hello', protocol: 2, agentVersion: 'sim', publicKey: generateNodeKeyPair().publicKey, facts: simFacts, images: [], activeJobs: [] });
    expect(await agent.next((m) => m.type === 'error')).toMatchObject({ code: 'NODE_KEY' });
    expect(await agent.closed).toMatchObject({ code: CloseCode.unauthorized });
    expect((await services.deps.db.node.findUniqueOrThrow({ where: { id: node.nodeId } })).publicKey).toBe(before.publicKey);
  });

  it("grant.renew answers only for the node's own unfinished jobs", async () => {
    const node = await enrolled('renewing-mac');
    const other = await enrolled('other-mac');
    const agent = await connect(node.nodeId, node.secret, node.keys);
    // The reconcile the connection queues (after the welcome) cancels open jobs no pin wants, as
    // these below are: the jobs are written once it has finished (the next one is minutes away).
    await until('the reconcile after connecting', async () => {
      const completed = await services.deps.queues.queue('reconcile').getJobs(['completed'], 0, 199);
      return completed.some((job) => job.data.scope === 'node' && job.data.id === node.nodeId);
    }, 20_000);
    const registry = await services.deps.db.registry.create({ data: { name: 'open', host: '127.0.0.1:9', plainHttp: true } });
    const digest = `sha256:${'cd'.repeat(32)}`;
    const job = (nodeId: string, state: 'pulling' | 'done') =>
      services.deps.db.syncJob.create({ data: { key: syncJobKey(nodeId, digest), nodeId, digest, reference: `${registry.host}/demo/macos:15.2`, state } });
    const running = await job(node.nodeId, 'pulling');
    const finished = await job(node.nodeId, 'done');
    const foreign = await job(other.nodeId, 'pulling');

    agent.send({ type: 'grant.renew', jobId: running.id });
    expect(await agent.next((m) => m.type === 'grant')).toEqual({ type: 'grant', jobId: running.id, registry: { host: registry.host, plainHttp: true } });
    for (const [jobId, code] of [
      [finished.id, 'CONFLICT'],
      [foreign.id, 'NOT_FOUND'],
      [randomUUID(), 'NOT_FOUND'],
    ] as const) {
      agent.send({ type: 'grant.renew', jobId });
      expect(await agent.next((m) => m.type === 'error')).toMatchObject({ code });
    }
    expect(agent.open).toBe(true);
  });
});
