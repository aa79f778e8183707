// Reading the audit log: filters an admin types (target type, actor, action prefix, time range)
// and keyset pagination on the id, newest first, so pages stay stable while new events arrive.
import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import { auditable } from './record.ts';
import type { ServiceDeps } from '../deps.ts';

export interface AuditFilter {
  targetType?: string;
  /** Part of the actor as shown (an email, `system`, `node:<name>`), any case. */
  actor?: string;
  /** `pin.` finds pin.create, pin.update and pin.delete. */
  action?: string;
  from?: Date;
  to?: Date;
  /** The id of the last event of the previous page. */
  cursor?: string;
  limit?: number;
}

export interface AuditEventView {
  /** A bigint in the database; a string here so every client can hold it. */
  id: string;
  at: Date;
  actor: string;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  before: Prisma.JsonValue | null;
  after: Prisma.JsonValue | null;
}

export const maxAuditPage = 100;

function cursorId(cursor: string): bigint {
  if (!/^\d{1,19}$/.test(cursor)) throw new AppError('BAD_REQUEST', 'That page cursor is not valid; start from the first page.');
  return BigInt(cursor);
}

/** Redacts again on the way out: the log is append-only, so this also covers rows written before a rule existed. */
function redacted(value: Prisma.JsonValue | null): Prisma.JsonValue | null {
  return (auditable(value) as Prisma.JsonValue | undefined) ?? null;
}

export async function listAuditEvents(deps: ServiceDeps, filter: AuditFilter): Promise<{ events: AuditEventView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), maxAuditPage);
  const where: Prisma.AuditEventWhereInput = {};
  if (filter.targetType) where.targetType = filter.targetType;
  if (filter.actor?.trim()) where.actor = { contains: filter.actor.trim(), mode: 'insensitive' };
  if (filter.action?.trim()) where.action = { startsWith: filter.action.trim() };
  if (filter.from || filter.to) where.at = { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lte: filter.to } : {}) };
  if (filter.cursor) where.id = { lt: cursorId(filter.cursor) };
  const rows = await deps.db.auditEvent.findMany({ where, orderBy: { id: 'desc' }, take: limit + 1 });
  const page = rows.slice(0, limit);
  return {
    events: page.map((e) => ({
      id: e.id.toString(),
      at: e.at,
      actor: e.actor,
      actorId: e.actorId,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId,
      before: redacted(e.before),
      after: redacted(e.after),
    })),
    nextCursor: rows.length > limit ? page[page.length - 1]!.id.toString() : null,
  };
}

/** The target types present in the log, for the filter's choices. */
export async function auditTargetTypes(deps: ServiceDeps): Promise<string[]> {
  const rows = await deps.db.auditEvent.findMany({ distinct: ['targetType'], select: { targetType: true }, orderBy: { targetType: 'asc' } });
  return rows.map((r) => r.targetType);
}
