// For router tests: real PostgreSQL and Redis (a cloned database and a key prefix per test file),
// users made straight in the database, and callers acting as them through the whole tRPC stack
// (input validation, role checks, error mapping).
import { randomBytes } from 'node:crypto';
import type { Role } from '@cider/db';
import { useTestDatabase } from '@cider/db/testing';
import { useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { createServiceDeps } from '../src/deps-factory.ts';
import type { EventHub } from '../src/events.ts';
import { createCaller } from '../src/root.ts';
import { createUser, type SessionUser } from '../src/services/access/auth.ts';
import type { ServiceDeps } from '../src/services/deps.ts';
import type { TrpcContext } from '../src/trpc.ts';

export const testPassword = 'a long enough password';

export interface RouterHarness {
  readonly deps: ServiceDeps;
  readonly hub: EventHub;
  /** A user with `testPassword`; `teams` gives memberships (team id -> role there). */
  user(role: Role, options?: { email?: string; teams?: Record<string, Role> }): Promise<SessionUser>;
  /** The user as a fresh session would see them (role and teams re-read). */
  reload(user: SessionUser): Promise<SessionUser>;
  /** `extra` sets more of the context, e.g. `apiToken` for a caller that came with an API token. */
  caller(user: SessionUser | undefined, extra?: Partial<TrpcContext>): ReturnType<typeof createCaller>;
}

export function useRouterHarness(): RouterHarness {
  const database = useTestDatabase();
  const redis = useRedisPrefix();
  let services: ReturnType<typeof createServiceDeps> | undefined;
  beforeAll(() => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
  });
  afterAll(async () => {
    await services?.close();
  });
  const current = () => {
    if (!services) throw new Error('useRouterHarness(): only inside tests and hooks');
    return services;
  };

  async function reload(user: SessionUser): Promise<SessionUser> {
    const row = await current().deps.db.user.findUniqueOrThrow({ where: { id: user.id }, include: { memberships: true } });
    return { id: row.id, email: row.email, name: row.name, role: row.role, teams: row.memberships.map((m) => ({ teamId: m.teamId, role: m.role })) };
  }

  return {
    get deps() {
      return current().deps;
    },
    get hub() {
      return current().hub;
    },
    async user(role, options = {}) {
      const email = options.email ?? `${role}-${randomBytes(4).toString('hex')}@example.com`;
      const { id } = await createUser(current().deps, { email, name: email.split('@')[0]!, password: testPassword, role });
      for (const [teamId, teamRole] of Object.entries(options.teams ?? {})) {
        await current().deps.db.membership.create({ data: { userId: id, teamId, role: teamRole } });
      }
      return reload({ id, email, name: '', role, teams: [] });
    },
    reload,
    caller(user, extra = {}) {
      const ctx: TrpcContext = { deps: current().deps, hub: current().hub, user, sessionToken: undefined, userAgent: undefined, setSessionCookie: () => {}, ...extra };
      return createCaller(ctx);
    },
  };
}

/** Every password hash and token hash in the database, to prove no response carries one. */
export async function storedSecrets(deps: ServiceDeps): Promise<string[]> {
  const [users, apiTokens, enrollmentTokens, sessions] = await Promise.all([
    deps.db.user.findMany({ select: { passwordHash: true } }),
    deps.db.apiToken.findMany({ select: { tokenHash: true } }),
    deps.db.enrollmentToken.findMany({ select: { tokenHash: true } }),
    deps.db.session.findMany({ select: { id: true } }),
  ]);
  return [...users.map((u) => u.passwordHash), ...apiTokens.map((t) => t.tokenHash), ...enrollmentTokens.map((t) => t.tokenHash), ...sessions.map((s) => s.id)];
}

/** Fails when a response, stringified, contains any stored secret or a scrypt hash. */
export function leaks(responses: unknown[], secrets: string[]): string[] {
  const text = JSON.stringify(responses, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  const found = secrets.filter((secret) => text.includes(secret));
  if (text.includes('scrypt$')) found.push('scrypt$');
  return found;
}

/** A rejection with this tRPC code (and message). */
export function failure(code: string, message?: RegExp) {
  return expect.objectContaining({ code, ...(message ? { message: expect.stringMatching(message) } : {}) });
}

/**
 * A rejection by input validation. Asserted through the ZodError cause: over HTTP the error
 * formatter turns it into the sentence the form shows, whatever the tRPC code.
 */
export function invalid(message: RegExp) {
  return expect.objectContaining({ cause: expect.objectContaining({ name: 'ZodError', message: expect.stringMatching(message) }) });
}
