// Sign-in: scrypt password hashes, random session tokens of which only the sha256 is stored,
// and a limit on failed attempts per account (Redis counter), so guessing is slow.
import type { Role } from '@cider/db';
import { hashPassword, hashToken, newToken, verifyPassword } from '../crypto.ts';
import { AppError } from '../errors.ts';
import type { ServiceDeps } from './deps.ts';

export const sessionLifetimeMs = 7 * 24 * 60 * 60 * 1000;
export const maxFailedSignIns = 10;
export const failedSignInWindowS = 15 * 60;

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  /** Teams the user belongs to, with the role there. */
  teams: { teamId: string; role: Role }[];
}

function failureKey(deps: ServiceDeps, email: string): string {
  return `${deps.prefix}:signin-failures:${email.toLowerCase()}`;
}

// A fixed hash to spend the same time on unknown emails as on wrong passwords.
let dummyHash: Promise<string> | undefined;

export async function signIn(
  deps: ServiceDeps,
  input: { email: string; password: string; userAgent?: string },
): Promise<{ token: string; expiresAt: Date; user: SessionUser }> {
  const email = input.email.trim().toLowerCase();
  const key = failureKey(deps, email);
  const failures = Number((await deps.redis.get(key)) ?? 0);
  if (failures >= maxFailedSignIns) {
    const ttl = await deps.redis.ttl(key);
    throw new AppError('TOO_MANY_REQUESTS', `Too many failed sign-ins for this account. Try again in ${Math.max(1, Math.ceil(ttl / 60))} minutes.`);
  }
  const user = await deps.db.user.findUnique({ where: { email } });
  const valid = user
    ? await verifyPassword(input.password, user.passwordHash)
    : await verifyPassword(input.password, await (dummyHash ??= hashPassword('not a password')));
  if (!user || !valid || user.disabledAt) {
    await deps.redis.multi().incr(key).expire(key, failedSignInWindowS).exec();
    throw new AppError('UNAUTHENTICATED', user?.disabledAt && valid ? 'This account is disabled.' : 'Wrong email or password.');
  }
  await deps.redis.del(key);
  const token = newToken('cs');
  const expiresAt = new Date(Date.now() + sessionLifetimeMs);
  await deps.db.session.create({
    data: { id: hashToken(token), userId: user.id, expiresAt, userAgent: input.userAgent?.slice(0, 300) ?? null },
  });
  const sessionUser = await loadSessionUser(deps, user.id);
  return { token, expiresAt, user: sessionUser! };
}

async function loadSessionUser(deps: ServiceDeps, userId: string): Promise<SessionUser | undefined> {
  const user = await deps.db.user.findUnique({ where: { id: userId }, include: { memberships: true } });
  if (!user || user.disabledAt) return undefined;
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    teams: user.memberships.map((m) => ({ teamId: m.teamId, role: m.role })),
  };
}

/** The user behind a session cookie, or undefined when it is unknown or expired. */
export async function userForSession(deps: ServiceDeps, token: string | undefined): Promise<SessionUser | undefined> {
  if (!token) return undefined;
  const session = await deps.db.session.findUnique({ where: { id: hashToken(token) } });
  if (!session || session.expiresAt.getTime() < Date.now()) return undefined;
  // Refresh last-seen at most once a minute: cheap enough for every request.
  if (Date.now() - session.lastSeenAt.getTime() > 60_000) {
    await deps.db.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date() } });
  }
  return loadSessionUser(deps, session.userId);
}

export async function signOut(deps: ServiceDeps, token: string | undefined): Promise<void> {
  if (!token) return;
  await deps.db.session.deleteMany({ where: { id: hashToken(token) } });
}

export async function createUser(
  deps: ServiceDeps,
  input: { email: string; name: string; password: string; role: Role },
): Promise<{ id: string }> {
  if (input.password.length < 10) throw new AppError('BAD_REQUEST', 'Passwords need at least 10 characters.');
  const email = input.email.trim().toLowerCase();
  const existing = await deps.db.user.findUnique({ where: { email } });
  if (existing) throw new AppError('CONFLICT', `A user with email ${email} already exists.`);
  const user = await deps.db.user.create({
    data: { email, name: input.name, role: input.role, passwordHash: await hashPassword(input.password) },
  });
  return { id: user.id };
}
