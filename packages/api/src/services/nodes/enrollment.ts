// Enrollment tokens as admins see them (creation lives in nodes.ts with enrollment itself).
// Only the token's sha256 is stored, so a listed token can be described and revoked, never shown.
import type { EnrollmentToken } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { asLabels, type Labels } from '../projects/projects.ts';

export type EnrollmentTokenStatus = 'active' | 'expired' | 'used-up' | 'revoked';

export interface EnrollmentTokenView {
  id: string;
  name: string;
  labels: Labels;
  usesLeft: number | null;
  expiresAt: Date | null;
  createdAt: Date;
  createdBy: string | null;
  revokedAt: Date | null;
  status: EnrollmentTokenStatus;
}

export function enrollmentTokenStatus(token: Pick<EnrollmentToken, 'revokedAt' | 'expiresAt' | 'usesLeft'>, now = Date.now()): EnrollmentTokenStatus {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && token.expiresAt.getTime() <= now) return 'expired';
  if (token.usesLeft !== null && token.usesLeft <= 0) return 'used-up';
  return 'active';
}

function view(token: EnrollmentToken & { createdBy: { email: string } | null }): EnrollmentTokenView {
  return {
    id: token.id,
    name: token.name,
    labels: asLabels(token.labels),
    usesLeft: token.usesLeft,
    expiresAt: token.expiresAt,
    createdAt: token.createdAt,
    createdBy: token.createdBy?.email ?? null,
    revokedAt: token.revokedAt,
    status: enrollmentTokenStatus(token),
  };
}

export async function listEnrollmentTokens(deps: ServiceDeps): Promise<EnrollmentTokenView[]> {
  const tokens = await deps.db.enrollmentToken.findMany({ orderBy: { createdAt: 'desc' }, include: { createdBy: { select: { email: true } } } });
  return tokens.map(view);
}

/** Revoking twice is harmless: the first revocation stands. */
export async function revokeEnrollmentToken(deps: ServiceDeps, actor: Actor, input: { tokenId: string }): Promise<EnrollmentTokenView> {
  return deps.db.$transaction(async (tx) => {
    const include = { createdBy: { select: { email: true } } } as const;
    const before = await tx.enrollmentToken.findUnique({ where: { id: input.tokenId }, include });
    if (!before) throw new AppError('NOT_FOUND', 'No such enrollment token.');
    if (before.revokedAt) return view(before);
    const after = await tx.enrollmentToken.update({ where: { id: before.id }, data: { revokedAt: new Date() }, include });
    await recordAudit(tx, actor, 'enrollment-token.revoke', { type: 'enrollmentToken', id: before.id }, view(before), view(after));
    return view(after);
  });
}
