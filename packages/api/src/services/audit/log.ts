// Reading the audit log: filters an admin types (target type, actor, action prefix, time range)
// and keyset pagination on the id, newest first, so pages stay stable while new events arrive.
// Each page names its targets and the objects its changes point at, looked up once per page.
import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import { describeChanges, referencedIds, type ChangeLine, type NamesById } from './changes.ts';
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
  /** The target as people know it: its name now, else the name the event recorded, else null. */
  targetName: string | null;
  before: Prisma.JsonValue | null;
  after: Prisma.JsonValue | null;
  /** What changed, in words: "Name: iOS → iOS CI". */
  changes: ChangeLine[];
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
  const page = rows.slice(0, limit).map((e) => ({ ...e, before: redacted(e.before), after: redacted(e.after) }));
  const wanted = referencedIds(page.flatMap((e) => [e.before, e.after]));
  for (const e of page) if (e.targetId) (wanted.get(e.targetType) ?? wanted.set(e.targetType, new Set()).get(e.targetType)!).add(e.targetId);
  const names = await namesOf(deps, wanted);
  return {
    events: page.map((e) => ({
      id: e.id.toString(),
      at: e.at,
      actor: e.actor,
      actorId: e.actorId,
      action: e.action,
      targetType: e.targetType,
      targetId: e.targetId,
      targetName: (e.targetId ? names.get(e.targetId) : undefined) ?? recordedName(e.targetType, e.after) ?? recordedName(e.targetType, e.before),
      before: e.before,
      after: e.after,
      changes: describeChanges(e.before, e.after, names),
    })),
    nextCursor: rows.length > limit ? page[page.length - 1]!.id.toString() : null,
  };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Today's name of every object asked for, by id; one query per type present, deleted objects absent. */
async function namesOf(deps: ServiceDeps, wanted: Map<string, Set<string>>): Promise<NamesById> {
  const names = new Map<string, string>();
  const ids = (type: string) => [...(wanted.get(type) ?? [])].filter((id) => uuid.test(id));
  const lookups: Record<string, (id: string[]) => Promise<{ id: string; name: string }[]>> = {
    project: (id) => deps.db.project.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    registry: (id) => deps.db.registry.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    team: (id) => deps.db.team.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    node: (id) => deps.db.node.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    enrollmentToken: (id) => deps.db.enrollmentToken.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    apiToken: (id) => deps.db.apiToken.findMany({ where: { id: { in: id } }, select: { id: true, name: true } }),
    user: async (id) => (await deps.db.user.findMany({ where: { id: { in: id } }, select: { id: true, email: true } })).map((u) => ({ id: u.id, name: u.email })),
    pin: async (id) =>
      (await deps.db.pin.findMany({ where: { id: { in: id } }, select: { id: true, reference: true, project: { select: { name: true } } } })).map((p) => ({ id: p.id, name: `${p.reference} in ${p.project.name}` })),
    mirror: async (id) =>
      (await deps.db.mirror.findMany({ where: { id: { in: id } }, select: { id: true, site: true, registry: { select: { name: true } } } })).map((m) => ({ id: m.id, name: `${m.registry.name} mirror at ${m.site}` })),
    syncJob: async (id) =>
      (await deps.db.syncJob.findMany({ where: { id: { in: id } }, select: { id: true, reference: true, node: { select: { name: true } } } })).map((j) => ({ id: j.id, name: `${j.reference} on ${j.node.name}` })),
  };
  const found = await Promise.all(Object.entries(lookups).map(([type, lookup]) => (ids(type).length ? lookup(ids(type)) : Promise.resolve([]))));
  for (const rows of found) for (const row of rows) names.set(row.id, row.name);
  return names;
}

/** The name an event wrote down for its target, for targets since deleted (or never stored by id). */
function recordedName(targetType: string, value: Prisma.JsonValue | null): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const keys = targetType === 'team' ? ['name', 'team'] : ['name', 'email', 'reference', 'site'];
  for (const key of keys) if (typeof value[key] === 'string') return value[key];
  return null;
}

/** The target types present in the log, for the filter's choices. */
export async function auditTargetTypes(deps: ServiceDeps): Promise<string[]> {
  const rows = await deps.db.auditEvent.findMany({ distinct: ['targetType'], select: { targetType: true }, orderBy: { targetType: 'asc' } });
  return rows.map((r) => r.targetType);
}
