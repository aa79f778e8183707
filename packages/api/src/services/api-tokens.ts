// API tokens: scripts and CI call the API as a user with `Authorization: Bearer cat_...`.
// The token is shown once at creation; only its sha256 is stored. A token works while it is
// unrevoked, unexpired and its user enabled, and acts with that user's current role and teams.
import { hashToken, newToken } from '../crypto.ts';
import { AppError } from '../errors.ts';
import { recordAudit } from './audit.ts';
import type { SessionUser } from './auth.ts';
import type { Actor, ServiceDeps } from './deps.ts';

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

export async function createApiToken(
  deps: ServiceDeps,
  actor: Actor,
  input: { userId: string; name: string; expiresInDays?: number | null },
): Promise<{ token: string; apiToken: ApiTokenView }> {
  const name = input.name.trim();
  if (!name) throw new AppError('BAD_REQUEST', 'Give the token a name, e.g. "ci-runner".');
  const token = newToken(apiTokenPrefix);
  const apiToken = await deps.db.$transaction(async (tx) => {
    const row = await tx.apiToken.create({
      data: {
        userId: input.userId,
        name,
        tokenHash: hashToken(token),
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
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

/**
 * The user an `Authorization: Bearer cat_...` header speaks for, or undefined when the token is
 * unknown, revoked, expired, or its user disabled. Last use is recorded at most once a minute.
 */
export async function userForApiToken(deps: ServiceDeps, token: string | undefined): Promise<SessionUser | undefined> {
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
  return { id: user.id, email: user.email, name: user.name, role: user.role, teams: user.memberships.map((m) => ({ teamId: m.teamId, role: m.role })) };
}
