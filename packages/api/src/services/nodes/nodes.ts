// Nodes: enrollment with a token an admin created, per-node secrets (only their hash is kept),
// presence, host facts, and the inventory the agent reports.
import type { Prisma } from '@cider/db';
import { CloseCode, type HostFacts } from '@cider/protocol';
import { hashToken, newToken, tokensEqual } from '../../crypto.ts';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { heartbeatIsVisible, type NodeBeforeHeartbeat } from './heartbeat-change.ts';
import { disconnectNode } from './notices.ts';
import { peerSubnetsOf } from '../fleet/subnets.ts';
import { asLabels } from '../projects/projects.ts';

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

/** How long an admin's "Replace node" lets an enrollment take over the node's name. */
export const replaceWindowMs = 24 * 3_600_000;

function replaceHint(name: string): string {
  return `A node named "${name}" is already enrolled. If this Mac replaces it, an admin chooses "Allow replacement" on that node's page (Nodes -> ${name}), then enroll again within 24 hours; otherwise enroll under another name (--name).`;
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

/**
 * Trades an enrollment token for a node identity. The node's secret is returned once and stored
 * only as a hash. A name that is taken is refused unless an admin allowed its replacement: then
 * the node keeps its id and history but gets a new secret and key, and its old agent is cut off.
 */
export async function enrollNode(
  deps: ServiceDeps,
  input: { token: string; name: string; labels: Record<string, string>; publicKey?: string; facts?: HostFacts },
): Promise<{ nodeId: string; nodeName: string; secret: string }> {
  const secret = newToken('cns');
  let replaced: { id: string; enrolledAt: Date } | undefined;
  let enrolled;
  try {
    enrolled = await deps.db.$transaction(async (tx) => {
      const now = new Date();
      const token = await tx.enrollmentToken.findUnique({ where: { tokenHash: hashToken(input.token) } });
      // One UPDATE whose row count decides: concurrent enrollments cannot spend a use twice.
      // Anything refused below rolls this back, so a refused enrollment costs no use.
      const claimed = token
        ? await tx.enrollmentToken.updateMany({
            where: {
              id: token.id,
              revokedAt: null,
              AND: [{ OR: [{ usesLeft: null }, { usesLeft: { gt: 0 } }] }, { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }],
            },
            data: { usesLeft: { decrement: 1 } },
          })
        : { count: 0 };
      if (!token || claimed.count === 0) {
        throw new AppError('UNAUTHENTICATED', 'This enrollment token is unknown, expired, revoked or used up. Ask an admin for a new one (Settings -> Enrollment tokens).');
      }
      // The token's labels win: they are what the admin decided for Macs enrolled with it.
      const labels = { ...input.labels, ...asLabels(token.labels) };
      const data = {
        labels,
        secretHash: hashToken(secret),
        pendingSecretHash: null,
        facts: (input.facts ?? undefined) as Prisma.InputJsonValue | undefined,
        publicKey: input.publicKey ?? null,
        revokedAt: null,
        decommissionedAt: null,
        replaceAllowedUntil: null,
        state: 'offline' as const,
      };
      const existing = await tx.node.findUnique({ where: { name: input.name } });
      if (!existing) {
        const node = await tx.node.create({ data: { name: input.name, ...data } });
        await recordAudit(tx, { label: `node:${node.name}` }, 'node.enroll', { type: 'node', id: node.id }, undefined, { ...node, token: token.name });
        return node;
      }
      // The replace window is spent by the one enrollment that claims it.
      const claimedName = await tx.node.updateMany({ where: { id: existing.id, replaceAllowedUntil: { gt: now } }, data: { ...data, enrolledAt: now } });
      if (claimedName.count === 0) throw new AppError('CONFLICT', replaceHint(input.name));
      const node = await tx.node.findUniqueOrThrow({ where: { id: existing.id } });
      await recordAudit(tx, { label: `node:${node.name}` }, 'node.replace', { type: 'node', id: node.id }, existing, { ...node, token: token.name });
      replaced = { id: existing.id, enrolledAt: existing.enrolledAt };
      return node;
    });
  } catch (error) {
    // Two enrollments of one new name at once: the second sees the name taken, as it would later.
    if (isUniqueViolation(error)) throw new AppError('CONFLICT', replaceHint(input.name), { cause: error });
    throw error;
  }
  if (replaced) {
    // The old agent's socket closes now; its secret no longer opens a new one.
    await disconnectNode(deps, replaced.id, 'this node was replaced by a new enrollment', CloseCode.unauthorized, enrolled.enrolledAt);
    await deps.events.publish({ type: 'node.updated', nodeId: replaced.id }).catch(() => {});
  }
  return { nodeId: enrolled.id, nodeName: enrolled.name, secret };
}

/**
 * Checks a node's credentials (`<nodeId>.<secret>`); returns the node or throws. A rotated secret
 * the agent was sent is accepted too, and the first connection with it makes it the only one.
 */
export async function authenticateNode(deps: ServiceDeps, credentials: string | undefined) {
  const dot = credentials?.indexOf('.') ?? -1;
  if (!credentials || dot < 1) throw new AppError('UNAUTHENTICATED', 'Missing node credentials.');
  const nodeId = credentials.slice(0, dot);
  const secret = credentials.slice(dot + 1);
  if (!/^[0-9a-f-]{36}$/.test(nodeId)) throw new AppError('UNAUTHENTICATED', 'Malformed node credentials.');
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  const presented = hashToken(secret);
  const current = node ? tokensEqual(node.secretHash, presented) : false;
  const pending = node?.pendingSecretHash ? tokensEqual(node.pendingSecretHash, presented) : false;
  if (!node || (!current && !pending)) {
    throw new AppError('UNAUTHENTICATED', 'Unknown node or wrong node secret. Enroll this Mac again (cider-agent enroll).');
  }
  if (node.revokedAt) throw new AppError('FORBIDDEN', 'This node was revoked by an admin.');
  if (pending) {
    const promoted = await deps.db.$transaction(async (tx) => {
      const { count } = await tx.node.updateMany({ where: { id: node.id, pendingSecretHash: presented, revokedAt: null }, data: { secretHash: presented, pendingSecretHash: null } });
      if (count === 1) await recordAudit(tx, { label: `node:${node.name}` }, 'node.secret-rotated', { type: 'node', id: node.id });
      return count === 1;
    });
    if (promoted) return { ...node, secretHash: presented, pendingSecretHash: null };
    // Promoted by a concurrent connection, or rotated again meanwhile: ask again with fresh state.
    return authenticateNode(deps, credentials);
  }
  return node;
}

/**
 * A greeted agent: the node is online. Refused (the gateway closes the socket) when the node was
 * revoked since the socket opened, or when the agent names a public key other than the one it
 * enrolled with: grants are sealed to that key, so only enrollment (or a replacement) sets it.
 */
export async function markNodeOnline(
  deps: ServiceDeps,
  nodeId: string,
  hello: { facts: HostFacts; agentVersion: string; publicKey: string },
): Promise<'online' | 'revoked' | 'other-key'> {
  const data = { state: 'online' as const, lastSeenAt: new Date(), facts: hello.facts as unknown as Prisma.InputJsonValue, peerSubnets: peerSubnetsOf(hello.facts), agentVersion: hello.agentVersion };
  // Agents enrolled before nodes had keys name theirs in their first hello.
  const { count } = await deps.db.node.updateMany({
    where: { id: nodeId, revokedAt: null, OR: [{ publicKey: null }, { publicKey: hello.publicKey }] },
    data: { ...data, publicKey: hello.publicKey },
  });
  if (count === 0) {
    const node = await deps.db.node.findUnique({ where: { id: nodeId }, select: { revokedAt: true } });
    return !node || node.revokedAt ? 'revoked' : 'other-key';
  }
  await deps.events.publish({ type: 'node.updated', nodeId });
  return 'online';
}

export async function markNodeOffline(deps: ServiceDeps, nodeId: string): Promise<void> {
  await deps.db.node.updateMany({ where: { id: nodeId, state: 'online' }, data: { state: 'offline' } });
  await deps.events.publish({ type: 'node.updated', nodeId });
}

/**
 * False when the node was revoked meanwhile: its socket must close (a missed notice is caught here).
 * Every heartbeat moves lastSeenAt; only one that changes what a page shows publishes node.updated
 * (heartbeat-change.ts). The row as it was is read in the same statement, locked, so two
 * heartbeats at once cannot both compare against the same old facts.
 */
export async function recordHeartbeat(deps: ServiceDeps, nodeId: string, facts: HostFacts): Promise<boolean> {
  const now = new Date();
  const rows = await deps.db.$queryRaw<NodeBeforeHeartbeat[]>`
    WITH before AS (SELECT id, state, last_seen_at, facts FROM nodes WHERE id = ${nodeId}::uuid AND revoked_at IS NULL FOR UPDATE)
    UPDATE nodes n
    SET last_seen_at = ${now}, state = 'online', facts = ${JSON.stringify(facts)}::jsonb, peer_subnets = ${JSON.stringify(peerSubnetsOf(facts))}::jsonb
    FROM before WHERE n.id = before.id
    RETURNING before.state::text AS state, before.last_seen_at AS "lastSeenAt", before.facts AS facts`;
  const [before] = rows;
  if (!before) return false;
  if (heartbeatIsVisible(before, facts, now.getTime())) await deps.events.publish({ type: 'node.updated', nodeId });
  return true;
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
