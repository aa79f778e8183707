// Every tRPC procedure against every role (real PostgreSQL and Redis). The policy table below
// must name every procedure the router has, so a new procedure without a decided policy fails
// this test; each is then called as an anonymous visitor, a viewer, a member of the project's
// team, a member of another team, and an admin.
import { randomBytes } from 'node:crypto';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServiceDeps } from './deps-factory.ts';
import { appRouter, createCaller } from './root.ts';
import type { SessionUser } from './services/auth.ts';
import { createUser } from './services/auth.ts';
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
  'pins.set': 'team-member',
  'pins.remove': 'team-member',
  'nodes.list': 'signed-in',
  'nodes.get': 'signed-in',
  'nodes.revoke': 'admin',
  'nodes.rotateSecret': 'admin',
  'nodes.allowReplace': 'admin',
  'fleet.overview': 'signed-in',
  'events.stream': 'signed-in',
  'images.registries': 'signed-in',
  'images.repositories': 'signed-in',
  'images.tags': 'signed-in',
  'images.detail': 'signed-in',
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

type Outcome = 'allowed' | 'UNAUTHORIZED' | 'FORBIDDEN';

describe('every procedure checks the role (real PostgreSQL, Redis)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  const users = new Map<Who, SessionUser | undefined>();
  let inputs: Record<string, unknown> = {};

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    const { db } = services.deps;
    const home = await db.team.create({ data: { name: 'Home' } });
    const away = await db.team.create({ data: { name: 'Away' } });
    const make = async (who: Exclude<Who, 'anonymous'>, role: 'admin' | 'member' | 'viewer', team?: string) => {
      const { id } = await createUser(services.deps, { email: `${who}@roles.test`, name: who, password: 'long enough password', role });
      if (team) await db.membership.create({ data: { userId: id, teamId: team, role: 'member' } });
      users.set(who, { id, email: `${who}@roles.test`, name: who, role, teams: team ? [{ teamId: team, role: 'member' }] : [] });
    };
    users.set('anonymous', undefined);
    await make('viewer', 'viewer', home.id);
    await make('member', 'member', home.id);
    await make('outsider', 'member', away.id);
    await make('admin', 'admin');
    const project = await db.project.create({ data: { name: 'home-ci', teamId: home.id } });
    const registry = await db.registry.create({ data: { name: 'r', host: '127.0.0.1:9', plainHttp: true } });
    const pin = await db.pin.create({
      data: { projectId: project.id, registryId: registry.id, reference: '127.0.0.1:9/a/b:1', repository: 'a/b', tag: '1', digest: `sha256:${'0'.repeat(64)}`, resolvedAt: new Date() },
    });
    // Inputs that pass validation where the decision needs real rows; every other procedure
    // gets an empty input, which its role check (run before validation) must refuse first.
    inputs = {
      'pins.set': { projectId: project.id, reference: 'unconnected.example/a/b:1', mode: 'follow' },
      'pins.remove': { pinId: pin.id },
      'registries.setImmutableTags': { id: registry.id, immutableTags: true },
      'registries.tagPolicy': { host: registry.host },
    };
  });
  afterAll(async () => {
    await services?.close();
  });

  it('has a decided policy for every procedure, and none for procedures that are gone', () => {
    const procedures = Object.keys((appRouter as unknown as { _def: { procedures: Record<string, unknown> } })._def.procedures).sort();
    expect(procedures).toEqual(Object.keys(policy).sort());
  });

  async function call(path: string, who: Who): Promise<Outcome> {
    const ctx: TrpcContext = {
      deps: services.deps,
      hub: { stream: async function* () {}, listen: async () => () => {} } as unknown as TrpcContext['hub'],
      user: users.get(who),
      sessionToken: undefined,
      userAgent: undefined,
      setSessionCookie: () => {},
    };
    const caller = createCaller(ctx) as unknown as Record<string, unknown>;
    const procedure = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
    const input = path in inputs ? inputs[path] : path === 'auth.signIn' ? { email: 'nobody@roles.test', password: 'x' } : {};
    try {
      const result = await procedure(input);
      if (result && typeof result === 'object' && Symbol.asyncIterator in result) await (result as AsyncGenerator).return?.(undefined);
      return 'allowed';
    } catch (error) {
      if (error instanceof TRPCError && (error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN')) {
        // Signing in with wrong credentials is refused for everyone; that is not a role check.
        if (path === 'auth.signIn') return 'allowed';
        return error.code;
      }
      return 'allowed'; // past the role check: bad input, not found, conflict...
    }
  }

  for (const [path, rule] of Object.entries(policy)) {
    it(`${path} (${rule})`, async () => {
      const outcomes = Object.fromEntries(await Promise.all(everyone.map(async (who) => [who, await call(path, who)] as const)));
      const expected = Object.fromEntries(everyone.map((who) => [who, allowed(rule, who) ? 'allowed' : who === 'anonymous' ? 'UNAUTHORIZED' : 'FORBIDDEN']));
      expect(outcomes).toEqual(expected);
    });
  }
});
