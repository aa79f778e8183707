// Every tRPC procedure against every role (real PostgreSQL, Redis and the run's docker-registry).
// The policy table below must name every procedure the router has, so a new procedure without a
// decided policy fails this test; each is then called as an anonymous visitor, a viewer, a member
// of the project's team, a member of another team, and an admin. Each call gets input that is
// valid for it (fresh rows where the call uses them up), so a role that is allowed must succeed:
// any error, INTERNAL included, fails the test. A role that is denied must get UNAUTHORIZED or
// FORBIDDEN, and leave no audit event behind.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { pushArtifact, RegistryClient } from '@cider/oci';
import { startFaultProxy, writeRandomFile, type FaultProxy } from '@cider/oci/testing';
import { generateNodeKeyPair } from '@cider/protocol';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { TRPCError } from '@trpc/server';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServiceDeps } from './deps-factory.ts';
import { appRouter, createCaller } from './root.ts';
import { createApiToken } from './services/access/api-tokens.ts';
import type { SessionUser } from './services/access/auth.ts';
import { createUser } from './services/access/auth.ts';
import { createEnrollmentToken } from './services/nodes/nodes.ts';
import type { ServerTaskRunners } from './services/tasks/runners.ts';
import type { TrpcContext } from './trpc.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

/** public: anyone; signed-in: any role; team-member: admins and members of the project's team; admin: admins. */
type Policy = 'public' | 'signed-in' | 'team-member' | 'admin';

const policy: Record<string, Policy> = {
  'auth.signIn': 'public',
  'auth.signOut': 'public',
  'auth.me': 'public',
  'registries.list': 'signed-in',
  'registries.create': 'admin',
  'registries.test': 'admin',
  'registries.check': 'admin',
  'registries.setImmutableTags': 'admin',
  'registries.tagPolicy': 'signed-in',
  'registries.mirrors.list': 'signed-in',
  'registries.mirrors.add': 'admin',
  'registries.mirrors.update': 'admin',
  'registries.mirrors.remove': 'admin',
  'registries.update': 'admin',
  'registries.delete': 'admin',
  'teams.list': 'signed-in',
  'teams.create': 'admin',
  'teams.rename': 'admin',
  'teams.delete': 'admin',
  'teams.addMember': 'admin',
  'teams.setMemberRole': 'admin',
  'teams.removeMember': 'admin',
  'projects.list': 'signed-in',
  'projects.byId': 'signed-in',
  'projects.create': 'admin',
  'projects.rollout': 'signed-in',
  'projects.rolloutFlow': 'signed-in',
  'projects.update': 'admin',
  'projects.delete': 'admin',
  'projects.previewSelector': 'signed-in',
  'pins.set': 'team-member',
  'pins.remove': 'team-member',
  'nodes.page': 'signed-in',
  'nodes.search': 'signed-in',
  'nodes.get': 'signed-in',
  'nodes.revoke': 'admin',
  'nodes.rotateSecret': 'admin',
  'nodes.allowReplace': 'admin',
  'nodes.clearConditions': 'admin',
  'nodes.decommission': 'admin',
  'fleet.overview': 'signed-in',
  'trends.project': 'signed-in',
  'events.stream': 'signed-in',
  'images.registries': 'signed-in',
  'images.repositories': 'signed-in',
  'images.tags': 'signed-in',
  'images.detail': 'signed-in',
  'images.pickRepositories': 'signed-in',
  'images.pickTags': 'signed-in',
  'images.holders': 'signed-in',
  'jobs.list': 'signed-in',
  'jobs.get': 'signed-in',
  'jobs.retry': 'admin',
  'jobs.cancel': 'admin',
  'users.list': 'admin',
  'users.create': 'admin',
  'users.setRole': 'admin',
  'users.setDisabled': 'admin',
  'users.resetPassword': 'admin',
  'tokens.enrollment.create': 'admin',
  'tokens.enrollment.list': 'admin',
  'tokens.enrollment.revoke': 'admin',
  'tokens.api.create': 'signed-in',
  'tokens.api.list': 'signed-in',
  'tokens.api.revoke': 'signed-in',
  'audit.list': 'admin',
  'audit.targetTypes': 'admin',
  'tasks.list': 'admin',
  'tasks.get': 'admin',
  'tasks.cancel': 'admin',
  'tasks.appleCatalog': 'admin',
  'tasks.appleImageSize': 'admin',
  'tasks.publishFromApple': 'admin',
  'tasks.bundleOptions': 'admin',
  'tasks.exportBundle': 'admin',
};

type Who = 'anonymous' | 'viewer' | 'member' | 'outsider' | 'admin';
const everyone: Who[] = ['anonymous', 'viewer', 'member', 'outsider', 'admin'];

function allowed(rule: Policy, who: Who): boolean {
  switch (rule) {
    case 'public':
      return true;
    case 'signed-in':
      return who !== 'anonymous';
    case 'team-member':
      return who === 'member' || who === 'admin';
    case 'admin':
      return who === 'admin';
  }
}

/** `allowed` when the call succeeded; the auth code when refused; otherwise what went wrong, so the diff says it. */
type Outcome = string;

const password = 'long enough password';
const unique = (base: string) => `${base}-${randomBytes(4).toString('hex')}`;

describe('every procedure checks the role, and lets the allowed ones succeed (real PostgreSQL, Redis, docker-registry)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let work: string;
  /** A second address for the run's registry, so registries.create has a host of its own to connect. */
  let proxy: FaultProxy;
  const registryHost = inject('registryHost');
  const repository = uniqueRepository('roles');
  const users = new Map<Who, SessionUser | undefined>();
  let home: string;
  let project: string;
  let registryId: string;
  let node: string;
  let job: string;

  /** Valid input for each procedure as `who` would send it; fresh rows where a call uses its row up. */
  const inputs: Record<string, (who: Who) => Promise<unknown>> = {
    'auth.signIn': async (who) => {
      const email = `${unique(`sign-in-${who}`)}@roles.test`;
      await createUser(services.deps, { email, name: who, password, role: 'viewer' });
      return { email, password };
    },
    'auth.signOut': async () => undefined,
    'auth.me': async () => undefined,
    'registries.list': async () => undefined,
    'registries.create': async () => ({ name: unique('proxied'), host: proxy.host, plainHttp: true }),
    'registries.test': async () => ({ name: 'run registry', host: registryHost, plainHttp: true }),
    'registries.check': async () => ({ registryId }),
    'registries.setImmutableTags': async () => ({ id: registryId, immutableTags: false }),
    'registries.tagPolicy': async () => ({ host: registryHost }),
    'registries.mirrors.list': async () => ({ registryId }),
    'registries.mirrors.add': async () => ({ registryId, site: unique('site'), host: 'mirror.example:5000', plainHttp: true }),
    'registries.mirrors.update': async () => ({ id: await mirror(), plainHttp: false }),
    'registries.mirrors.remove': async () => ({ id: await mirror() }),
    'registries.update': async () => {
      const spare = await spareRegistry();
      return { id: spare.id, name: unique('renamed'), host: spare.host, plainHttp: true, authKind: 'none' };
    },
    'registries.delete': async () => ({ id: (await spareRegistry()).id }),
    'teams.list': async () => undefined,
    'teams.create': async () => ({ name: unique('team') }),
    'teams.rename': async () => ({ teamId: await team(), name: unique('renamed') }),
    'teams.delete': async () => ({ teamId: await team() }),
    'teams.addMember': async () => ({ teamId: await team(), userId: await someone(), role: 'member' }),
    'teams.setMemberRole': async () => {
      const [teamId, userId] = [await team(), await someone()];
      await services.deps.db.membership.create({ data: { teamId, userId, role: 'member' } });
      return { teamId, userId, role: 'viewer' };
    },
    'teams.removeMember': async () => {
      const [teamId, userId] = [await team(), await someone()];
      await services.deps.db.membership.create({ data: { teamId, userId, role: 'member' } });
      return { teamId, userId };
    },
    'projects.list': async () => undefined,
    'projects.byId': async () => ({ projectId: project }),
    'projects.create': async () => ({ name: unique('project'), teamId: home }),
    'projects.rollout': async () => ({ projectId: project }),
    'projects.rolloutFlow': async () => ({ projectId: project, digest: `sha256:${'1'.repeat(64)}` }),
    'projects.update': async () => ({ projectId: await homeProject(), name: unique('renamed-ci'), nodeSelector: 'pool=roles' }),
    'projects.delete': async () => ({ projectId: await homeProject() }),
    'projects.previewSelector': async () => ({ nodeSelector: 'pool=roles' }),
    'pins.set': async () => ({ projectId: await homeProject(), reference: `${registryHost}/${repository}:1`, mode: 'follow' }),
    'pins.remove': async () => {
      const pin = await services.deps.db.pin.create({
        data: { projectId: await homeProject(), registryId, reference: `${registryHost}/${repository}:1`, repository, tag: '1', digest: `sha256:${'0'.repeat(64)}`, resolvedAt: new Date() },
      });
      return { pinId: pin.id };
    },
    'nodes.page': async () => ({ search: 'mac' }),
    'nodes.search': async () => ({ query: 'mac' }),
    'nodes.get': async () => ({ nodeId: node }),
    'nodes.revoke': async () => ({ nodeId: await freshNode() }),
    'nodes.rotateSecret': async () => ({ nodeId: await freshNode() }),
    'nodes.allowReplace': async () => ({ nodeId: await freshNode() }),
    'nodes.clearConditions': async () => ({ nodeId: await freshNode() }),
    'nodes.decommission': async () => ({ nodeId: await freshNode(), purgeCache: true }),
    'fleet.overview': async () => undefined,
    'trends.project': async () => ({ projectId: project }),
    'events.stream': async () => undefined,
    'images.registries': async () => undefined,
    'images.repositories': async () => ({ registryId }),
    'images.tags': async () => ({ registryId, repository }),
    'images.detail': async () => ({ registryId, repository, reference: '1' }),
    'images.pickRepositories': async () => ({ registryId, search: repository }),
    'images.pickTags': async () => ({ registryId, repository }),
    'images.holders': async () => ({ digests: [`sha256:${'1'.repeat(64)}`] }),
    'jobs.list': async () => ({}),
    'jobs.get': async () => ({ jobId: job }),
    'jobs.retry': async () => ({ jobId: await syncJob('failed') }),
    'jobs.cancel': async () => ({ jobId: await syncJob('queued') }),
    'users.list': async () => undefined,
    'users.create': async () => ({ email: `${unique('new')}@roles.test`, name: 'New', password, role: 'viewer' }),
    'users.setRole': async () => ({ userId: await someone(), role: 'member' }),
    'users.setDisabled': async () => ({ userId: await someone(), disabled: true }),
    'users.resetPassword': async () => ({ userId: await someone(), password: 'another long password' }),
    'tokens.enrollment.create': async () => ({ name: unique('rack') }),
    'tokens.enrollment.list': async () => undefined,
    'tokens.enrollment.revoke': async () => ({ tokenId: (await createEnrollmentToken(services.deps, { label: 'setup' }, { name: unique('rack') })).id }),
    'tokens.api.create': async () => ({ name: unique('ci-runner') }),
    'tokens.api.list': async () => ({}),
    // Anyone may revoke their own token: each caller revokes one of theirs (the anonymous caller, the viewer's).
    'tokens.api.revoke': async (who) => {
      const owner = users.get(who) ?? users.get('viewer')!;
      return { tokenId: (await createApiToken(services.deps, { label: 'setup' }, { userId: owner.id, name: unique('script') })).apiToken.id };
    },
    'audit.list': async () => ({}),
    'audit.targetTypes': async () => undefined,
    'tasks.list': async () => ({}),
    'tasks.get': async () => ({ taskId: await serverTask() }),
    'tasks.cancel': async () => ({ taskId: await serverTask() }),
    'tasks.appleCatalog': async () => undefined,
    'tasks.appleImageSize': async () => ({ build: '24C101' }),
    'tasks.publishFromApple': async () => ({ build: '24C101', registryId, repository: unique('apple') }),
    'tasks.bundleOptions': async () => ({ projectName: 'home-ci' }),
    'tasks.exportBundle': async () => ({ projectId: await pinnedProject(), path: join(work, 'bundles', `${unique('bundle')}.tar`) }),
  };

  // A queued server task, straight into the table (nothing runs it here).
  const serverTask = async () => (await services.deps.db.serverTask.create({ data: { kind: 'publish_apple', params: {} } })).id;
  const pinnedProject = async () => {
    const id = await homeProject();
    const digest = `sha256:${'e'.repeat(64)}`;
    await services.deps.db.pin.create({ data: { projectId: id, registryId, reference: `${registryHost}/${repository}:1`, repository, tag: '1', digest, resolvedAt: new Date() } });
    return id;
  };
  // The catalog, as the control plane's runners would read it; the work itself is not run here.
  const runners: ServerTaskRunners = {
    fetchAppleCatalog: async () => [{ version: '15.2', build: '24C101', url: 'http://127.0.0.1:9/UniversalMac_15.2_24C101_Restore.ipsw', devices: [] }],
    restoreImageSize: async () => 17_000_000_000,
    publishFromApple: () => Promise.reject(new Error('not run here')),
    planBundle: () => Promise.reject(new Error('not run here')),
    writeBundle: () => Promise.reject(new Error('not run here')),
    exportBundle: () => Promise.reject(new Error('not run here')),
  };

  const team = async () => (await services.deps.db.team.create({ data: { name: unique('team') } })).id;
  // Never pinned and never contacted: the edit changes only its name.
  const spareRegistry = async () => services.deps.db.registry.create({ data: { name: unique('spare'), host: `${unique('spare')}.example:5000`, plainHttp: true } });
  const mirror = async () => (await services.deps.db.mirror.create({ data: { registryId, site: unique('site'), host: 'mirror.example:5000', plainHttp: true } })).id;
  // Straight into the table: nobody signs in as them, so no password hash is worth its scrypt time.
  const someone = async () => (await services.deps.db.user.create({ data: { email: `${unique('someone')}@roles.test`, name: 'Someone', passwordHash: 'unusable', role: 'member' } })).id;
  const homeProject = async () => (await services.deps.db.project.create({ data: { name: unique('home-ci'), teamId: home } })).id;
  const freshNode = async () =>
    (await services.deps.db.node.create({ data: { name: unique('mac'), secretHash: 'x'.repeat(64), state: 'online', lastSeenAt: new Date(), publicKey: generateNodeKeyPair().publicKey } })).id;
  const syncJob = async (state: 'queued' | 'failed') =>
    (
      await services.deps.db.syncJob.create({
        data: { key: unique('key'), nodeId: node, digest: `sha256:${'1'.repeat(64)}`, reference: `${registryHost}/${repository}:1`, state, ...(state === 'failed' ? { error: 'it broke', finishedAt: new Date() } : {}) },
      })
    ).id;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-roles-'));
    await mkdir(join(work, 'bundles'));
    services = createServiceDeps({
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      secretKey: randomBytes(32).toString('base64'),
      tasks: { runners, appleCatalogUrl: 'http://127.0.0.1:9/catalog.xml', bundleDir: join(work, 'bundles') },
    });
    const { db } = services.deps;
    const payload = join(work, 'payload.bin');
    await writeRandomFile(payload, 1024);
    const pusher = new RegistryClient();
    try {
      await pushArtifact({ client: pusher, reference: `${registryHost}/${repository}:1`, files: [{ path: payload }] });
    } finally {
      await pusher.close();
    }
    proxy = await startFaultProxy(inject('registryUrl'));

    home = (await db.team.create({ data: { name: 'Home' } })).id;
    const away = (await db.team.create({ data: { name: 'Away' } })).id;
    const make = async (who: Exclude<Who, 'anonymous'>, role: 'admin' | 'member' | 'viewer', teamId?: string) => {
      const { id } = await createUser(services.deps, { email: `${who}@roles.test`, name: who, password, role });
      if (teamId) await db.membership.create({ data: { userId: id, teamId, role: 'member' } });
      users.set(who, { id, email: `${who}@roles.test`, name: who, role, teams: teamId ? [{ teamId, role: 'member' }] : [] });
    };
    users.set('anonymous', undefined);
    await make('viewer', 'viewer', home);
    await make('member', 'member', home);
    await make('outsider', 'member', away);
    await make('admin', 'admin');
    project = (await db.project.create({ data: { name: 'home-ci', teamId: home } })).id;
    registryId = (await db.registry.create({ data: { name: 'run registry', host: registryHost, plainHttp: true } })).id;
    node = await freshNode();
    job = await syncJob('failed');
  });
  afterAll(async () => {
    await proxy?.close();
    await services?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('has a decided policy and a valid input for every procedure, and none for procedures that are gone', () => {
    const procedures = Object.keys((appRouter as unknown as { _def: { procedures: Record<string, unknown> } })._def.procedures).sort();
    expect(procedures).toEqual(Object.keys(policy).sort());
    expect(Object.keys(inputs).sort()).toEqual(procedures);
  });

  const auditCount = (userId: string) => services.deps.db.auditEvent.count({ where: { actorId: userId } });

  async function call(path: string, who: Who): Promise<Outcome> {
    const user = users.get(who);
    const ctx: TrpcContext = {
      deps: services.deps,
      hub: { stream: async function* () {}, listen: async () => () => {} } as unknown as TrpcContext['hub'],
      user,
      sessionToken: undefined,
      userAgent: undefined,
      setSessionCookie: () => {},
    };
    const caller = createCaller(ctx) as unknown as Record<string, unknown>;
    const procedure = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
    const input = await inputs[path]!(who);
    const audited = user ? await auditCount(user.id) : 0;
    try {
      const result = await procedure(input);
      if (result && typeof result === 'object' && Symbol.asyncIterator in result) await (result as AsyncGenerator).return?.(undefined);
      return 'allowed';
    } catch (error) {
      if (error instanceof TRPCError && (error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN')) {
        // A refusal changes nothing: not even an audit line in the caller's name.
        if (user && (await auditCount(user.id)) !== audited) return `${error.code}, but audited`;
        return error.code;
      }
      const code = error instanceof TRPCError ? error.code : 'not a TRPCError';
      return `failed: ${code}: ${(error as Error).message}`;
    }
  }

  for (const [path, rule] of Object.entries(policy)) {
    it(`${path} (${rule})`, async () => {
      // One caller after another: sign-in verifies a few passwords at a time and refuses the rest as busy.
      const outcomes: Record<string, Outcome> = {};
      for (const who of everyone) outcomes[who] = await call(path, who);
      const expected = Object.fromEntries(everyone.map((who) => [who, allowed(rule, who) ? 'allowed' : who === 'anonymous' ? 'UNAUTHORIZED' : 'FORBIDDEN']));
      expect(outcomes).toEqual(expected);
    });
  }
});
