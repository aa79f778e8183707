// Sign-in: scrypt password hashes, random session tokens of which only the sha256 is stored,
// and throttling (sign-in-throttle.ts): every attempt is counted per account and per client
// address before its password is checked, and only a few checks run at once per process.
import type { Role } from '@cider/db';
import { hashPassword, hashToken, newToken, verifyPassword } from '../../crypto.ts';
import { AppError } from '../../errors.ts';
import type { ApiTokenExpiryPolicy } from './api-tokens.ts';
import type { ServiceDeps } from '../deps.ts';
import {
  attemptKeys,
  claimSignInAttempt,
  defaultSignInPolicy,
  defaultVerificationSlots,
  forgiveSignInAttempt,
  type SignInPolicy,
  type VerificationSlots,
} from './sign-in-throttle.ts';

export const sessionLifetimeMs = 7 * 24 * 60 * 60 * 1000;

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  /** Teams the user belongs to, with the role there. */
  teams: { teamId: string; role: Role }[];
}

/** "Try again later", with when: the HTTP layer turns `retryAfterS` into a Retry-After header. */
export class RetryLaterError extends AppError {
  constructor(
    readonly retryAfterS: number,
    message: string,
  ) {
    super('TOO_MANY_REQUESTS', message);
  }
}

// The hash of a random password nobody knows, checked for unknown emails so they cost the same
// scrypt work (same parameters) as a wrong password for a real account.
export const unknownUserHash = 'scrypt$32768$8$1$w+hrt2vZLIkNmRFkxTf25A==$WDB7FyIxP2Z8ZzLoZXHZs93FF6QVDXnJArv9bYOvcSDCIHZ7hedUIL47GlF9LIVIcUGTfvf/0aS8N/r1sTh3bQ==';

/** Per-deployment rules the HTTP layer hands to procedures (from web's environment). */
export interface AuthPolicy {
  signIn?: SignInPolicy;
  verificationSlots?: VerificationSlots;
  apiTokenExpiry?: ApiTokenExpiryPolicy;
}

export interface SignInOptions {
  /** The caller's address as the HTTP layer determined it (see http/client-address.ts). */
  clientAddress?: string;
  policy?: SignInPolicy;
  slots?: VerificationSlots;
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function inSeconds(s: number): string {
  return s === 1 ? '1 second' : `${s} seconds`;
}

export async function signIn(
  deps: ServiceDeps,
  input: { email: string; password: string; userAgent?: string },
  options: SignInOptions = {},
): Promise<{ token: string; expiresAt: Date; user: SessionUser }> {
  const email = input.email.trim().toLowerCase();
  // A slot first: an attempt refused for lack of one is not counted against anybody.
  const release = (options.slots ?? defaultVerificationSlots).tryAcquire();
  if (!release) throw new RetryLaterError(1, 'The server is busy checking other sign-ins. Try again in a second.');
  try {
    const keys = attemptKeys(deps, email, options.clientAddress);
    const waitMs = await claimSignInAttempt(deps, options.policy ?? defaultSignInPolicy, keys);
    // Same words whether or not the account exists, and whichever counter refused.
    if (waitMs > 0) throw new RetryLaterError(seconds(waitMs), `Too many failed sign-ins. Try again in ${inSeconds(seconds(waitMs))}.`);
    const user = await deps.db.user.findUnique({ where: { email } });
    const valid = await verifyPassword(input.password, user?.passwordHash ?? unknownUserHash);
    if (!user || !valid || user.disabledAt) {
      throw new AppError('UNAUTHENTICATED', user?.disabledAt && valid ? 'This account is disabled.' : 'Wrong email or password.');
    }
    await forgiveSignInAttempt(deps, keys);
    const token = newToken('cs');
    const expiresAt = new Date(Date.now() + sessionLifetimeMs);
    await deps.db.session.create({
      data: { id: hashToken(token), userId: user.id, expiresAt, userAgent: input.userAgent?.slice(0, 300) ?? null },
    });
    const sessionUser = await loadSessionUser(deps, user.id);
    return { token, expiresAt, user: sessionUser! };
  } finally {
    release();
  }
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
