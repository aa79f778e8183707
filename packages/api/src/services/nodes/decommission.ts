// Decommissioning a node: a Mac retired from the fleet. It is revoked (its secret stops working,
// its socket closes, its open jobs are cancelled) and leaves the fleet's counts and lists; the
// nodes list shows it again on request. Its cache is purged only when the admin chose so, and
// only a connected agent can do that: the purge is sent before the socket closes.
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { nodeStatus } from '../fleet/overview.ts';
import { cutOff, findNode, identity, type NodeActionResult } from './admin.ts';
import { sendToAgent } from './notices.ts';

export interface DecommissionResult extends NodeActionResult {
  /** Whether the purge was sent to a connected agent; false when not asked for or the node was offline. */
  purgeSent: boolean;
}

export async function decommissionNode(deps: ServiceDeps, actor: Actor, input: { nodeId: string; purgeCache: boolean }): Promise<DecommissionResult> {
  const node = await findNode(deps, input.nodeId);
  if (node.decommissionedAt) return { nodeId: node.id, nodeName: node.name, purgeSent: false, message: `${node.name} was already decommissioned.` };
  const online = nodeStatus(node) === 'online';
  const purgeSent = input.purgeCache && online;
  // Before the disconnect notice: the gateway hears both on one subscription, in this order, so
  // the agent reads the purge before its socket closes.
  if (purgeSent) await sendToAgent(deps, node.id, { type: 'purge', reason: `decommissioned by ${actor.label}` });
  const now = new Date();
  const after = await deps.db.$transaction(async (tx) => {
    const { count } = await tx.node.updateMany({
      where: { id: node.id, decommissionedAt: null },
      data: { decommissionedAt: now, revokedAt: node.revokedAt ?? now, state: 'revoked', pendingSecretHash: null, replaceAllowedUntil: null },
    });
    if (count === 0) return undefined;
    // The purged images are gone from the Mac; an unpurged cache stays, and so does its record.
    if (purgeSent) await tx.nodeImage.deleteMany({ where: { nodeId: node.id } });
    const updated = await tx.node.findUniqueOrThrow({ where: { id: node.id } });
    await recordAudit(tx, actor, 'node.decommission', { type: 'node', id: node.id }, identity(node), { ...identity(updated), purgeCache: input.purgeCache, purgeSent });
    return updated;
  });
  if (!after) return { nodeId: node.id, nodeName: node.name, purgeSent: false, message: `${node.name} was already decommissioned.` };
  const { socket, jobs } = await cutOff(deps, node.id, 'decommissioned');
  const cache = !input.purgeCache
    ? 'its cache stays on the Mac'
    : purgeSent
      ? 'its agent was told to purge its cache'
      : "its agent is not connected, so its cache could not be purged: delete the agent's cache directory on the Mac by hand";
  return {
    nodeId: node.id,
    nodeName: node.name,
    purgeSent,
    message: `Decommissioned ${node.name}: ${socket} and can no longer connect; ${jobs}; ${cache}. It no longer counts in the fleet.`,
  };
}
