// Nodes: enrollment with a token an admin created, per-node secrets (only their hash is kept),
// presence, host facts, and the inventory the agent reports.
import type { Prisma } from '@cider/db';
import type { HostFacts } from '@cider/protocol';
import { hashToken, newToken, tokensEqual } from '../crypto.ts';
import { AppError } from '../errors.ts';
import { recordAudit } from './audit.ts';
import type { Actor, ServiceDeps } from './deps.ts';
import { asLabels } from './projects.ts';

export async function createEnrollmentToken(
  deps: ServiceDeps,
  actor: Actor,
  input: { name: string; labels?: Record<string, string>; usesLeft?: number | null; expiresInHours?: number | null },
): Promise<{ id: string; token: string }> {
  const token = newToken('cen');
  const created = await deps.db.$transaction(async (tx) => {
    const row = await tx.enrollmentToken.create({
      data: {
        name: input.name,
        tokenHash: hashToken(token),
        labels: input.labels ?? {},
        usesLeft: input.usesLeft ?? null,
        expiresAt: input.expiresInHours ? new Date(Date.now() + input.expiresInHours * 3_600_000) : null,
        createdById: actor.userId ?? null,
      },
    });
    await recordAudit(tx, actor, 'enrollment-token.create', { type: 'enrollmentToken', id: row.id }, undefined, row);
    return row;
  });
  return { id: created.id, token };
}

/**
 * Trades an enrollment token for a node identity. The node's secret is returned once and
 * stored only as a hash. Enrolling an existing name again (a reinstalled Mac) rotates its secret.
 */
export async function enrollNode(
  deps: ServiceDeps,
  input: { token: string; name: string; labels: Record<string, string>; publicKey?: string; facts?: HostFacts },
): Promise<{ nodeId: string; nodeName: string; secret: string }> {
  const secret = newToken('cns');
  return deps.db.$transaction(async (tx) => {
    const token = await tx.enrollmentToken.findUnique({ where: { tokenHash: hashToken(input.token) } });
    const now = new Date();
    if (!token || token.revokedAt || (token.expiresAt && token.expiresAt < now) || (token.usesLeft !== null && token.usesLeft <= 0)) {
      throw new AppError('UNAUTHENTICATED', 'This enrollment token is unknown, expired, revoked or used up. Ask an admin for a new one (Settings -> Enrollment tokens).');
    }
    if (token.usesLeft !== null) await tx.enrollmentToken.update({ where: { id: token.id }, data: { usesLeft: { decrement: 1 } } });
    const labels = { ...asLabels(token.labels), ...input.labels };
    const existing = await tx.node.findUnique({ where: { name: input.name } });
    const data = {
      labels,
      secretHash: hashToken(secret),
      facts: (input.facts ?? undefined) as Prisma.InputJsonValue | undefined,
      publicKey: input.publicKey ?? null,
      revokedAt: null,
      state: 'offline' as const,
    };
    const node = existing
      ? await tx.node.update({ where: { id: existing.id }, data })
      : await tx.node.create({ data: { name: input.name, ...data } });
    await recordAudit(tx, { label: `node:${node.name}` }, existing ? 'node.re-enroll' : 'node.enroll', { type: 'node', id: node.id }, existing ?? undefined, node);
    return { nodeId: node.id, nodeName: node.name, secret };
  });
}

/** Checks a node's credentials (`<nodeId>.<secret>`); returns the node or throws. */
export async function authenticateNode(deps: ServiceDeps, credentials: string | undefined) {
  const dot = credentials?.indexOf('.') ?? -1;
  if (!credentials || dot < 1) throw new AppError('UNAUTHENTICATED', 'Missing node credentials.');
  const nodeId = credentials.slice(0, dot);
  const secret = credentials.slice(dot + 1);
  if (!/^[0-9a-f-]{36}$/.test(nodeId)) throw new AppError('UNAUTHENTICATED', 'Malformed node credentials.');
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node || !tokensEqual(node.secretHash, hashToken(secret))) {
    throw new AppError('UNAUTHENTICATED', 'Unknown node or wrong node secret. Enroll this Mac again (cider-agent enroll).');
  }
  if (node.revokedAt) throw new AppError('FORBIDDEN', 'This node was revoked by an admin.');
  return node;
}

export async function markNodeOnline(deps: ServiceDeps, nodeId: string, hello: { facts: HostFacts; agentVersion: string; publicKey: string }): Promise<void> {
  await deps.db.node.update({
    where: { id: nodeId },
    data: { state: 'online', lastSeenAt: new Date(), facts: hello.facts as unknown as Prisma.InputJsonValue, agentVersion: hello.agentVersion, publicKey: hello.publicKey },
  });
  await deps.events.publish({ type: 'node.updated', nodeId });
}

export async function markNodeOffline(deps: ServiceDeps, nodeId: string): Promise<void> {
  await deps.db.node.updateMany({ where: { id: nodeId, state: 'online' }, data: { state: 'offline' } });
  await deps.events.publish({ type: 'node.updated', nodeId });
}

export async function recordHeartbeat(deps: ServiceDeps, nodeId: string, facts: HostFacts): Promise<void> {
  await deps.db.node.update({
    where: { id: nodeId },
    data: { lastSeenAt: new Date(), state: 'online', facts: facts as unknown as Prisma.InputJsonValue },
  });
  await deps.events.publish({ type: 'node.updated', nodeId });
}

/** An agent evicted an image (quota, or room for a pull): kept in the audit log with its reason. */
export async function recordEviction(
  deps: ServiceDeps,
  nodeId: string,
  report: { digest: string; reference?: string; reason: string; freedBytes: number },
): Promise<void> {
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node) return;
  await deps.db.$transaction((tx) =>
    recordAudit(tx, { label: `node:${node.name}` }, 'node.evict', { type: 'node', id: nodeId }, { digest: report.digest, reference: report.reference }, { reason: report.reason, freedBytes: report.freedBytes }),
  );
}
