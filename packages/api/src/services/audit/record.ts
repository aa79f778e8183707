import type { Prisma } from '@cider/db';
import type { Actor } from '../deps.ts';

type Tx = Pick<Prisma.TransactionClient, 'auditEvent'>;

/** Strips what must never reach the audit log (credentials, hashes) and makes values JSON-safe. */
export function auditable(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(
    JSON.stringify(value, (key, v) => {
      if (/password|secret|token|hash|sealed/i.test(key)) return v === null || v === undefined ? v : '[redacted]';
      if (typeof v === 'bigint') return v.toString();
      return v;
    }),
  ) as Prisma.InputJsonValue;
}

/** Appends one audit event inside the caller's transaction, so the change and its record land together. */
export async function recordAudit(
  tx: Tx,
  actor: Actor,
  action: string,
  target: { type: string; id?: string },
  before?: unknown,
  after?: unknown,
): Promise<void> {
  await tx.auditEvent.create({
    data: {
      actorId: actor.userId ?? null,
      actor: actor.label,
      action,
      targetType: target.type,
      targetId: target.id ?? null,
      before: auditable(before),
      after: auditable(after),
    },
  });
}
