// How any process (web, control) reaches the agent gateway that holds a node's socket: two Redis
// channels every gateway listens on. Agent commands are forwarded to the agent as they are;
// node notices are for the gateways alone (close this node's socket now), never sent on.
// Nothing secret is published: a command that carries a secret carries it sealed to the node.
import { CloseCode, type ControlMessage } from '@cider/protocol';
import { z } from 'zod';
import type { ServiceDeps } from '../deps.ts';

export function agentCommandsChannel(prefix: string): string {
  return `${prefix}:agent-commands`;
}

export function nodeNoticesChannel(prefix: string): string {
  return `${prefix}:node-notices`;
}

export const nodeNotice = z.object({
  type: z.literal('disconnect'),
  nodeId: z.string().max(64),
  /** The WebSocket close code the agent sees. */
  code: z.number().int().min(4000).max(4999),
  reason: z.string().max(120),
  /**
   * Close only sockets opened under an enrollment older than this (ISO time): a replaced node's
   * old agent goes, the replacement that may already have connected stays.
   */
  enrolledBefore: z.iso.datetime().optional(),
});
export type NodeNotice = z.infer<typeof nodeNotice>;

/**
 * Tells every gateway to close a node's live socket. False when Redis did not take the notice:
 * the database change stands, and the socket closes at the agent's next heartbeat instead.
 */
export async function disconnectNode(deps: ServiceDeps, nodeId: string, reason: string, code: number = CloseCode.revoked, enrolledBefore?: Date): Promise<boolean> {
  const notice: NodeNotice = { type: 'disconnect', nodeId, code, reason, ...(enrolledBefore ? { enrolledBefore: enrolledBefore.toISOString() } : {}) };
  return deps.redis.publish(nodeNoticesChannel(deps.prefix), JSON.stringify(notice)).then(
    () => true,
    () => false,
  );
}

/** Sends a message to a node's agent through whichever gateway holds its socket. */
export async function sendToAgent(deps: ServiceDeps, nodeId: string, message: ControlMessage): Promise<void> {
  await deps.redis.publish(agentCommandsChannel(deps.prefix), JSON.stringify({ nodeId, message }));
}
