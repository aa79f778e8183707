// Registry secrets in transit, against real registries that need them: a docker-registry that
// speaks only Basic (htpasswd) and one behind a token service. A real agent pulls from both
// while everything published on Redis is recorded: the password and the bearer token never
// appear in it, nor in any key Redis holds (BullMQ payloads included); the agent gets a
// pull-only token for one repository where the registry speaks token auth, and the Basic
// credential only sealed to its own key where it does not.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '@cider/agent/agent';
import { enroll } from '@cider/agent/enroll';
import { createServiceDeps } from '@cider/api';
import { createEnrollmentToken, createProject, createRegistry, setPin } from '@cider/api/services';
import { useTestDatabase } from '@cider/db/testing';
import { pushArtifact, RegistryClient, StaticCredentials } from '@cider/oci';
import { startTokenServer, writeHtpasswd, type TokenServer } from '@cider/oci/testing';
import { grantContext, openSealedBox, registryGrant, type RegistryGrant } from '@cider/protocol';
import { startRegistry, type RunningRegistry } from '@cider/services';
import { useRedisPrefix } from '@cider/services/testing';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type RunningControl } from './server.ts';
import { until } from '../testing/fleet.ts';
import { testControlConfig } from '../testing/control-config.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();
const actor = { label: 'admin@example.com' };
const password = `pw-${randomBytes(12).toString('hex')}`;

/** Every value Redis holds under the prefix, whatever its type, as text. */
async function dumpRedis(client: Redis, prefix: string): Promise<string> {
  const out: string[] = [];
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await client.type(key);
      if (type === 'string') out.push((await client.get(key)) ?? '');
      else if (type === 'hash') out.push(JSON.stringify(await client.hgetall(key)));
      else if (type === 'list') out.push(...(await client.lrange(key, 0, -1)));
      else if (type === 'set') out.push(...(await client.smembers(key)));
      else if (type === 'zset') out.push(...(await client.zrange(key, '0', '-1')));
      else if (type === 'stream') out.push(JSON.stringify(await client.xrange(key, '-', '+')));
    }
  } while (cursor !== '0' && ++rounds < 1_000);
  return out.join('\n');
}

describe('registry secrets in transit (real registries with Basic and token auth, PostgreSQL, Redis, agent)', () => {
  let work: string;
  let basicRegistry: RunningRegistry;
  let tokenRegistry: RunningRegistry;
  let tokenServer: TokenServer;
  let services: ReturnType<typeof createServiceDeps>;
  let control: RunningControl;
  let agent: Agent;
  let listener: Redis;
  const published: { channel: string; message: string }[] = [];
  const digests: Record<'basic' | 'token', string> = { basic: '', token: '' };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-secrets-'));
    await writeHtpasswd(join(work, 'htpasswd'), { alice: password });
    basicRegistry = await startRegistry({ auth: { kind: 'htpasswd', htpasswdFile: join(work, 'htpasswd') } });
    tokenServer = await startTokenServer({ service: 'cider-test', issuer: 'cider-test-issuer', users: { alice: { password, actions: ['*'] } } });
    tokenRegistry = await startRegistry({ auth: tokenServer.registryAuth });
    const file = join(work, 'payload.bin');
    await writeFile(file, randomBytes(64 * 1024));
    for (const [kind, registry] of [['basic', basicRegistry], ['token', tokenRegistry]] as const) {
      const client = new RegistryClient({ credentials: new StaticCredentials({ [registry.host]: { kind: 'basic', username: 'alice', password } }) });
      digests[kind] = (await pushArtifact({ client, reference: `${registry.host}/private/macos:15.2`, files: [{ path: file }] })).digest;
      await client.close();
    }

    const config = { databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') };
    services = createServiceDeps(config);
    listener = new Redis(redis.url);
    listener.on('pmessage', (_pattern: string, channel: string, message: string) => published.push({ channel, message }));
    await listener.psubscribe(`${redis.prefix}*`);
    const log = pino({ level: process.env.CIDER_TEST_LOG ?? 'silent' });
    control = await startControl(testControlConfig(config, log));
    const { token } = await createEnrollmentToken(services.deps, actor, { name: 'secrets', usesLeft: 1 });
    const agentConfig = await enroll({ server: control.url, token, name: 'mac-1', labels: { pool: 'ci' }, cacheDir: join(work, 'cache') });
    agent = new Agent({ config: agentConfig, log, reconnectBaseMs: 100, progressIntervalMs: 50 });
    const connected = agent.whenConnected();
    await agent.start();
    await connected;
  });
  afterAll(async () => {
    await agent?.stop();
    await control?.close();
    listener?.disconnect();
    await services?.close();
    await basicRegistry?.stop();
    await tokenRegistry?.stop();
    await tokenServer?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pulls from both registries while no password or token ever reaches Redis in clear', async () => {
    const team = await services.deps.db.team.create({ data: { name: 'Platform' } });
    const project = await createProject(services.deps, actor, { name: 'private-ci', teamId: team.id, nodeSelector: { pool: 'ci' } });
    for (const [name, registry] of [['basic', basicRegistry], ['token', tokenRegistry]] as const) {
      await createRegistry(services.deps, actor, { name, host: registry.host, plainHttp: true, authKind: 'basic', username: 'alice', password });
      await setPin(services.deps, actor, { projectId: project.id, reference: `${registry.host}/private/macos:15.2`, mode: 'follow' });
    }
    await until('the agent to hold both images', async () => (await services.deps.db.nodeImage.count({ where: { digest: { in: Object.values(digests) } } })) === 2, 60_000);

    // What the agent was sent, opened with its own key as only it can.
    const syncs = published
      .filter((p) => p.channel.endsWith(':agent-commands'))
      .map((p) => JSON.parse(p.message) as { message: { type: string; jobId: string; digest: string; registry: { grant?: string } } })
      .filter((c) => c.message.type === 'sync');
    const grantFor = (digest: string): RegistryGrant => {
      const sync = syncs.find((s) => s.message.digest === digest);
      expect(sync?.message.registry.grant).toBeDefined();
      return registryGrant.parse(JSON.parse(openSealedBox(agent.config, sync!.message.registry.grant!, grantContext(sync!.message.jobId))));
    };
    const basic = grantFor(digests.basic);
    expect(basic).toEqual({ kind: 'basic', username: 'alice', password });
    const bearer = grantFor(digests.token);
    expect(bearer).toMatchObject({ kind: 'bearer', scope: 'repository:private/macos:pull' });
    if (bearer.kind !== 'bearer') throw new Error('expected a bearer grant');
    expect(Date.parse(bearer.expiresAt)).toBeGreaterThan(Date.now());
    // The control plane asked the token service for pull on that one repository, nothing more.
    const asked = tokenServer.requests.filter((r) => r.account === 'alice' && r.status === 200).flatMap((r) => r.scopes);
    expect(asked).toContain('repository:private/macos:pull');

    const clearForms = [password, Buffer.from(`alice:${password}`).toString('base64'), bearer.token];
    const everythingPublished = published.map((p) => p.message).join('\n');
    const everythingStored = await dumpRedis(services.deps.redis, redis.prefix);
    for (const secret of clearForms) {
      expect(everythingPublished.includes(secret)).toBe(false);
      expect(everythingStored.includes(secret)).toBe(false);
    }
    expect(published.length).toBeGreaterThan(10);
  });
});
