// API tokens: scripts and CI call the API as a user with `Authorization: Bearer cat_...`.
// The token is shown once at creation; only its sha256 is stored. A token works while it is
// unrevoked, unexpired and its user enabled, and acts with that user's current role and teams.
// Every new token expires (90 days unless the deployment says otherwise); tokens made before
// expiry was required keep working and are listed with no expiry.
import type { Prisma } from '@cider/db';
import { hashToken, newToken } from '../../crypto.ts';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { SessionUser } from './auth.ts';
import type { Actor, ServiceDeps } from '../deps.ts';

export const apiTokenPrefix = 'cat';
const lastUsedResolutionMs = 60_000;

export interface ApiTokenView {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The owner, for an admin's list of every token. */
  user: { id: string; email: string };
}

const viewSelect = {
  id: true,
  name: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
  user: { select: { id: true, email: true } },
} as const;

/** How long new tokens live: `CIDER_API_TOKEN_DEFAULT_DAYS` and `CIDER_API_TOKEN_MAX_DAYS` in web. */
export interface ApiTokenExpiryPolicy {
  defaultDays: number;
  maxDays: number;
}

export const defaultApiTokenExpiry: ApiTokenExpiryPolicy = { defaultDays: 90, maxDays: 365 };

const dayMs = 86_400_000;

/**
 * When a new token expires. `notAfter` is the expiry of the API token the request came with, if
 * any: a token never mints one that outlives it (asked for more, it is refused; left to the
 * default, the new token ends when the caller's does).
 */
function newTokenExpiry(input: { expiresInDays?: number | null; policy?: ApiTokenExpiryPolicy; notAfter?: Date | null }, now: number): Date {
  const policy = input.policy ?? defaultApiTokenExpiry;
  if (input.expiresInDays === null) throw new AppError('BAD_REQUEST', `API tokens must expire: choose 1 to ${policy.maxDays} days (leave it empty for ${policy.defaultDays}).`);
  const days = input.expiresInDays ?? policy.defaultDays;
  if (!Number.isInteger(days) || days < 1 || days > policy.maxDays) throw new AppError('BAD_REQUEST', `An API token can live 1 to ${policy.maxDays} days.`);
  const expiresAt = new Date(now + days * dayMs);
  if (!input.notAfter || expiresAt <= input.notAfter) return expiresAt;
  if (input.expiresInDays === undefined) return input.notAfter;
  throw new AppError('FORBIDDEN', `This request uses an API token that expires ${input.notAfter.toISOString()}; a token it creates can't outlive it. Ask for fewer days, or sign in to the dashboard.`);
}

export async function createApiToken(
  deps: ServiceDeps,
  actor: Actor,
  input: { userId: string; name: string; expiresInDays?: number | null; policy?: ApiTokenExpiryPolicy; notAfter?: Date | null },
): Promise<{ token: string; apiToken: ApiTokenView }> {
  const name = input.name.trim();
  if (!name) throw new AppError('BAD_REQUEST', 'Give the token a name, e.g. "ci-runner".');
  const expiresAt = newTokenExpiry(input, Date.now());
  const token = newToken(apiTokenPrefix);
  const apiToken = await deps.db.$transaction(async (tx) => {
    const row = await tx.apiToken.create({
      data: {
        userId: input.userId,
        name,
        tokenHash: hashToken(token),
        expiresAt,
      },
      select: viewSelect,
    });
    await recordAudit(tx, actor, 'api-token.create', { type: 'apiToken', id: row.id }, undefined, row);
    return row;
  });
  return { token, apiToken };
}

/** One user's tokens, or (`userId` undefined) everyone's, newest first. */
export async function listApiTokens(deps: ServiceDeps, filter: { userId?: string }): Promise<ApiTokenView[]> {
  return deps.db.apiToken.findMany({ where: filter.userId ? { userId: filter.userId } : {}, orderBy: { createdAt: 'desc' }, select: viewSelect });
}

/** Revokes a token; `ownerId` set means only a token of that user may be revoked. */
export async function revokeApiToken(deps: ServiceDeps, actor: Actor, input: { tokenId: string; ownerId?: string }): Promise<ApiTokenView> {
  return deps.db.$transaction(async (tx) => {
    const before = await tx.apiToken.findUnique({ where: { id: input.tokenId }, select: viewSelect });
    // Someone else's token reads as unknown: its existence is none of the caller's business.
    if (!before || (input.ownerId && before.user.id !== input.ownerId)) throw new AppError('NOT_FOUND', 'No such API token.');
    if (before.revokedAt) return before;
    const after = await tx.apiToken.update({ where: { id: before.id }, data: { revokedAt: new Date() }, select: viewSelect });
    await recordAudit(tx, actor, 'api-token.revoke', { type: 'apiToken', id: before.id }, before, after);
    return after;
  });
}

/** Revokes every live token of a user (a password reset), each with its own audit event. */
export async function revokeUserApiTokens(tx: Prisma.TransactionClient, actor: Actor, userId: string): Promise<number> {
  const live = await tx.apiToken.findMany({ where: { userId, revokedAt: null }, select: viewSelect });
  const revokedAt = new Date();
  for (const before of live) {
    const after = await tx.apiToken.update({ where: { id: before.id }, data: { revokedAt }, select: viewSelect });
    await recordAudit(tx, actor, 'api-token.revoke', { type: 'apiToken', id: before.id }, before, after);
  }
  return live.length;
}

/** What a request authenticated by an API token knows about that token. */
export interface ApiTokenIdentity {
  id: string;
  /** null: made before tokens had to expire. */
  expiresAt: Date | null;
}

/** The user an `Authorization: Bearer cat_...` header speaks for; see `apiTokenSession`. */
export async function userForApiToken(deps: ServiceDeps, token: string | undefined): Promise<SessionUser | undefined> {
  return (await apiTokenSession(deps, token))?.user;
}

/**
 * The user and token behind an `Authorization: Bearer cat_...` header, or undefined when the
 * token is unknown, revoked, expired, or its user disabled. Last use is recorded at most once a minute.
 */
export async function apiTokenSession(deps: ServiceDeps, token: string | undefined): Promise<{ user: SessionUser; apiToken: ApiTokenIdentity } | undefined> {
  if (!token?.startsWith(`${apiTokenPrefix}_`)) return undefined;
  const row = await deps.db.apiToken.findUnique({
    where: { tokenHash: hashToken(token) },
    include: { user: { select: { id: true, email: true, name: true, role: true, disabledAt: true, memberships: { select: { teamId: true, role: true } } } } },
  });
  const now = Date.now();
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= now) || row.user.disabledAt) return undefined;
  if (!row.lastUsedAt || now - row.lastUsedAt.getTime() > lastUsedResolutionMs) {
    await deps.db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } });
  }
  const { user } = row;
  return {
    user: { id: user.id, email: user.email, name: user.name, role: user.role, teams: user.memberships.map((m) => ({ teamId: m.teamId, role: m.role })) },
    apiToken: { id: row.id, expiresAt: row.expiresAt },
  };
}
