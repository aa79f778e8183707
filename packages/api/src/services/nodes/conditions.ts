// Conditions the control plane raises on a node (kept in Node.conditions, apart from the facts
// each heartbeat replaces): bad data its peer server sent other Macs. They stay until an admin
// clears them, and while one stands for a digest, the tracker offers no other Mac that node as
// a peer for it (fleet/peers.ts).
import type { NodeCondition } from '@cider/protocol';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { controlConditionsOf } from '../fleet/overview.ts';

/** As many as the protocol lets an agent report: the oldest give way. */
export const maxControlConditions = 8;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type BadPeerData = Extract<NodeCondition, { type: 'bad-peer-data' }>;

/**
 * Another node's agent caught `report.nodeId`'s peer server sending bytes that failed their digest.
 * Believed only from a node with an open job of its own for that image (`jobId`), about a node
 * that could have served it (holds the image or fetches it too): anything else is ignored, so a
 * node cannot flag peers it never read from. Audited; the bad node's condition for the job's
 * digest counts the reports. Returns whether it was recorded.
 */
export async function recordBadPeer(
  deps: ServiceDeps,
  reporterId: string,
  report: { jobId: string; nodeId: string; digest: string; reason: string },
): Promise<boolean> {
  if (!uuidPattern.test(report.jobId) || !uuidPattern.test(report.nodeId) || report.nodeId === reporterId) return false;
  const job = await deps.db.syncJob.findUnique({ where: { id: report.jobId }, include: { node: { select: { name: true } } } });
  if (!job || job.nodeId !== reporterId || (job.state !== 'dispatched' && job.state !== 'pulling')) return false;
  // The agent names the image (the ticket's digest) or the blob that failed; either belongs to its job.
  const digest = job.digest;
  const couldServe = await deps.db.node.findFirst({
    where: {
      id: report.nodeId,
      OR: [{ images: { some: { digest } } }, { syncJobs: { some: { digest, state: { in: ['dispatched', 'pulling'] } } } }],
    },
    select: { id: true },
  });
  if (!couldServe) return false;
  const reporter = job.node.name;
  const now = new Date().toISOString();
  await deps.db.$transaction(async (tx) => {
    // One writer at a time per node: two reports at once both count.
    await tx.$queryRaw`SELECT 1 FROM nodes WHERE id = ${report.nodeId}::uuid FOR UPDATE`;
    const node = await tx.node.findUniqueOrThrow({ where: { id: report.nodeId } });
    const before = controlConditionsOf(node);
    const previous = before.find((c): c is BadPeerData => c.type === 'bad-peer-data' && c.digest === digest);
    const condition: BadPeerData = {
      type: 'bad-peer-data',
      digest,
      reportedBy: reporter,
      reports: Math.min((previous?.reports ?? 0) + 1, 1_000_000),
      reason: report.reason,
      since: previous?.since ?? now,
    };
    const others = before.filter((c) => c !== previous).sort((a, b) => a.since.localeCompare(b.since));
    const after = [...others.slice(Math.max(0, others.length - (maxControlConditions - 1))), condition];
    await tx.node.update({ where: { id: node.id }, data: { conditions: after } });
    await recordAudit(tx, { label: `node:${reporter}` }, 'node.bad-peer-data', { type: 'node', id: node.id }, previous, {
      reporter,
      reporterId,
      jobId: job.id,
      digest,
      ...(report.digest !== digest ? { blob: report.digest } : {}),
      reason: report.reason,
      reports: condition.reports,
    });
  });
  await deps.events.publish({ type: 'node.updated', nodeId: report.nodeId }).catch(() => {});
  return true;
}

/** An admin looked into a node's raised conditions (a disk replaced, say) and clears them all. */
export async function clearNodeConditions(deps: ServiceDeps, actor: Actor, input: { nodeId: string }): Promise<{ nodeId: string; nodeName: string; message: string }> {
  const cleared = await deps.db.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT 1 FROM nodes WHERE id = ${input.nodeId}::uuid FOR UPDATE`;
    const node = await tx.node.findUnique({ where: { id: input.nodeId } });
    if (!node) throw new AppError('NOT_FOUND', 'No such node: it may have been removed.');
    const before = controlConditionsOf(node);
    if (before.length === 0 && Array.isArray(node.conditions) && node.conditions.length === 0) return { node, count: 0 };
    await tx.node.update({ where: { id: node.id }, data: { conditions: [] } });
    await recordAudit(tx, actor, 'node.clear-conditions', { type: 'node', id: node.id }, { conditions: before }, { conditions: [] });
    return { node, count: before.length };
  });
  const { node, count } = cleared;
  if (count > 0) await deps.events.publish({ type: 'node.updated', nodeId: node.id }).catch(() => {});
  const message =
    count === 0
      ? `${node.name} had no conditions raised by the control plane.`
      : `Cleared ${count === 1 ? '1 condition' : `${count} conditions`} on ${node.name}: other Macs may read from its peer server again. Conditions its agent reports stay until the agent drops them.`;
  return { nodeId: node.id, nodeName: node.name, message };
}
