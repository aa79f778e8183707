// What admins do to a node's identity: revoke it (a lost or compromised Mac), rotate its secret,
// or allow a new enrollment to replace it (a reinstalled Mac). Each is audited.
import type { Node } from '@cider/db';
import { CloseCode, secretContext, sealBox } from '@cider/protocol';
import { hashToken, newToken } from '../../crypto.ts';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { nodeStatus } from '../fleet/overview.ts';
import { disconnectNode, sendToAgent } from './notices.ts';
import { replaceWindowMs } from './nodes.ts';
import { openStates } from '../sync/lifecycle.ts';
import { applySyncEvent } from '../sync/transitions.ts';

/** What the audit log keeps of a node (never its secret hashes, which auditable() redacts anyway). */
export function identity(node: Node) {
  return { name: node.name, revokedAt: node.revokedAt, decommissionedAt: node.decommissionedAt, publicKey: node.publicKey, replaceAllowedUntil: node.replaceAllowedUntil, secretRotationPending: node.pendingSecretHash !== null };
}

export async function findNode(deps: ServiceDeps, nodeId: string): Promise<Node> {
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node) throw new AppError('NOT_FOUND', 'No such node: it may have been removed.');
  return node;
}

export interface NodeActionResult {
  nodeId: string;
  nodeName: string;
  /** A sentence for the admin saying what happened and what comes next. */
  message: string;
}

/**
 * Revokes a node: its secret stops working at once, its live socket closes (on whichever control
 * process holds it), and its open sync jobs are cancelled. Revoking twice changes nothing.
 */
export async function revokeNode(deps: ServiceDeps, actor: Actor, input: { nodeId: string }): Promise<NodeActionResult> {
  const node = await findNode(deps, input.nodeId);
  if (node.revokedAt) return { nodeId: node.id, nodeName: node.name, message: `${node.name} was already revoked.` };
  const revoked = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.node.updateMany({
      where: { id: node.id, revokedAt: null },
      data: { revokedAt: new Date(), state: 'revoked', pendingSecretHash: null, replaceAllowedUntil: null },
    });
    if (count === 0) return undefined;
    const after = await tx.node.findUniqueOrThrow({ where: { id: node.id } });
    await recordAudit(tx, actor, 'node.revoke', { type: 'node', id: node.id }, identity(node), identity(after));
    return after;
  });
  if (!revoked) return { nodeId: node.id, nodeName: node.name, message: `${node.name} was already revoked.` };
  const { socket, jobs } = await cutOff(deps, node.id, 'revoked');
  return { nodeId: node.id, nodeName: node.name, message: `Revoked ${node.name}: ${socket} and can no longer connect; ${jobs}. To bring this Mac back, allow a replacement and enroll it again.` };
}

/** After a node was revoked: its socket closes and its open sync jobs are cancelled. Says what happened. */
export async function cutOff(deps: ServiceDeps, nodeId: string, how: 'revoked' | 'decommissioned'): Promise<{ socket: string; jobs: string }> {
  const disconnected = await disconnectNode(deps, nodeId, `this node was ${how} by an admin`, CloseCode.revoked);
  const open = await deps.db.syncJob.findMany({ where: { nodeId, state: { in: [...openStates] } } });
  // A revoked node never says hello again: nothing to wait for.
  for (const job of open) await applySyncEvent(deps, job, { type: 'cancel', reason: `the node was ${how}`, agentReachable: false });
  await deps.events.publish({ type: 'node.updated', nodeId }).catch(() => {});
  const jobs = open.length === 0 ? 'it had no open sync jobs' : open.length === 1 ? '1 open sync job was cancelled' : `${open.length} open sync jobs were cancelled`;
  const socket = disconnected ? 'its agent, if connected, was disconnected' : 'its agent, if connected, is disconnected at its next heartbeat';
  return { socket, jobs };
}

/**
 * Rotates a node's secret without downtime: the new secret is stored as pending and sent to the
 * agent sealed to its key; the agent stores it and reconnects with it, which makes it the only
 * one. Until then the old secret works too. Only a connected agent can receive it, so rotating
 * an offline node is refused.
 */
export async function rotateNodeSecret(deps: ServiceDeps, actor: Actor, input: { nodeId: string }): Promise<NodeActionResult> {
  const node = await findNode(deps, input.nodeId);
  if (node.revokedAt) throw new AppError('CONFLICT', `${node.name} is revoked: it has no secret to rotate. Allow a replacement and enroll it again instead.`);
  if (!node.publicKey) throw new AppError('CONFLICT', `${node.name}'s agent has no node key to receive a new secret; upgrade the agent and let it connect first.`);
  if (nodeStatus(node) !== 'online') {
    throw new AppError('CONFLICT', `${node.name} is offline: its agent must be connected to receive a new secret. Rotate again once it is online, or revoke it if the Mac is lost.`);
  }
  const secret = newToken('cns');
  await deps.db.$transaction(async (tx) => {
    const { count } = await tx.node.updateMany({ where: { id: node.id, revokedAt: null }, data: { pendingSecretHash: hashToken(secret) } });
    if (count === 0) throw new AppError('CONFLICT', `${node.name} was revoked meanwhile.`);
    await recordAudit(tx, actor, 'node.rotate-secret', { type: 'node', id: node.id }, identity(node), { ...identity(node), secretRotationPending: true });
  });
  // Sealed to the node's key: Redis and anything between control and agent see ciphertext.
  await sendToAgent(deps, node.id, { type: 'secret', sealed: sealBox(node.publicKey, secret, secretContext(node.id)) });
  await deps.events.publish({ type: 'node.updated', nodeId: node.id }).catch(() => {});
  return {
    nodeId: node.id,
    nodeName: node.name,
    message: `Sent ${node.name} a new secret. Its agent reconnects with it in a moment, and from then on the old secret is refused. Until then both work; if the agent does not switch, rotate again.`,
  };
}

/** Lets the next enrollment under this node's name (within 24 hours) replace it: new secret, new key, revocation lifted. */
export async function allowNodeReplacement(deps: ServiceDeps, actor: Actor, input: { nodeId: string }): Promise<NodeActionResult & { until: Date }> {
  const node = await findNode(deps, input.nodeId);
  const until = new Date(Date.now() + replaceWindowMs);
  await deps.db.$transaction(async (tx) => {
    await tx.node.update({ where: { id: node.id }, data: { replaceAllowedUntil: until } });
    await recordAudit(tx, actor, 'node.allow-replace', { type: 'node', id: node.id }, identity(node), { ...identity(node), replaceAllowedUntil: until });
  });
  await deps.events.publish({ type: 'node.updated', nodeId: node.id }).catch(() => {});
  return {
    nodeId: node.id,
    nodeName: node.name,
    until,
    message: `Until ${until.toISOString().replace('T', ' ').slice(0, 16)} UTC, enrolling a Mac as "${node.name}" (cider-agent enroll --name ${node.name}) replaces this node; its current agent is then cut off.`,
  };
}
