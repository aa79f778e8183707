// Registry mirrors in the dispatch, through the real gateway and dispatcher (in process, real
// PostgreSQL and Redis, agents reduced to their wire): a node's sync names the mirror of its
// `site` label for the image's registry, else the every-site one, else none; a mirror whose grant
// cannot be made is left out and the sync still goes.
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { addMirror, createEnrollmentToken, enrollNode } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { generateNodeKeyPair, protocolVersion, type ControlMessage } from '@cider/protocol';
import { useRedisPrefix } from '@cider/services/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type RunningControl } from './server.ts';
import { testControlConfig } from '../testing/control-config.ts';
import { SimAgent, simFacts } from '../testing/wire.ts';

const admin = { label: 'admin@example.com' };
const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
const database = useTestDatabase();
const redis = useRedisPrefix();

type SyncMessage = Extract<ControlMessage, { type: 'sync' }>;

describe('mirrors in sync dispatches (real control plane, PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl;
  let token: string;
  const sockets: SimAgent[] = [];

  beforeAll(async () => {
    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    services = createServiceDeps(config);
    control = await startControl(testControlConfig(config, log));
    ({ token } = await createEnrollmentToken(services.deps, admin, { name: 'mirrors' }));
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await control?.close();
    await services?.close();
  });

  /** A node with these labels, connected, and the sync it is sent for a fresh pin of `registry`. */
  async function syncFor(registry: { id: string; host: string }, labels: Record<string, string>): Promise<SyncMessage> {
    const suite = `mirror-${randomBytes(3).toString('hex')}`;
    const keys = generateNodeKeyPair();
    const node = await enrollNode(services.deps, { token, name: suite, labels: { ...labels, suite }, publicKey: keys.publicKey });
    const agent = await SimAgent.open(control.url, `${node.nodeId}.${node.secret}`);
    sockets.push(agent);
    agent.send({ type: 'hello', protocol: protocolVersion, agentVersion: 'sim', publicKey: keys.publicKey, facts: simFacts, images: [], activeJobs: [] });
    await agent.next((m) => m.type === 'welcome');
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    const { db } = services.deps;
    const team = await db.team.create({ data: { name: suite } });
    const project = await db.project.create({ data: { name: suite, teamId: team.id, nodeSelector: { suite } } });
    await db.pin.create({ data: { projectId: project.id, registryId: registry.id, reference: `${registry.host}/sim/macos:${suite}`, repository: 'sim/macos', tag: suite, digest, resolvedAt: new Date() } });
    await services.deps.queues.add('reconcile', { scope: 'project', id: project.id, reason: 'test pin' });
    return (await agent.next((m) => m.type === 'sync' && m.digest === digest, 30_000)) as SyncMessage;
  }

  it("names the node's site mirror, else the every-site one, else none", async () => {
    const { db } = services.deps;
    const withMirrors = await db.registry.create({ data: { name: 'mirrored', host: '127.0.0.1:9', plainHttp: true } });
    const bare = await db.registry.create({ data: { name: 'bare', host: '127.0.0.2:9', plainHttp: true } });
    await addMirror(services.deps, admin, { registryId: withMirrors.id, site: 'berlin', host: 'mirror.berlin.example:5000', plainHttp: false });
    await addMirror(services.deps, admin, { registryId: withMirrors.id, site: '*', host: '127.0.0.3:5000', plainHttp: true });

    const berlin = await syncFor(withMirrors, { site: 'berlin' });
    expect(berlin.registry).toEqual({ host: '127.0.0.1:9', plainHttp: true });
    expect(berlin.mirror).toEqual({ host: 'mirror.berlin.example:5000', plainHttp: false });
    expect((await syncFor(withMirrors, { site: 'paris' })).mirror).toEqual({ host: '127.0.0.3:5000', plainHttp: true });
    expect((await syncFor(withMirrors, {})).mirror).toEqual({ host: '127.0.0.3:5000', plainHttp: true });
    const none = await syncFor(bare, { site: 'berlin' });
    expect(none.registry).toEqual({ host: '127.0.0.2:9', plainHttp: true });
    expect(none).not.toHaveProperty('mirror');
  });

  it('dispatches without the mirror when its grant cannot be made', async () => {
    const { db } = services.deps;
    const registry = await db.registry.create({ data: { name: 'unlucky', host: '127.0.0.4:9', plainHttp: true } });
    // Credentials to exchange for a pull grant at a mirror nothing listens on.
    await addMirror(services.deps, admin, { registryId: registry.id, site: 'oslo', host: '127.0.0.5:9', plainHttp: true, username: 'robot', password: 'pw' });
    const sync = await syncFor(registry, { site: 'oslo' });
    expect(sync.registry).toEqual({ host: '127.0.0.4:9', plainHttp: true });
    expect(sync).not.toHaveProperty('mirror');
  });
});
