// Reconciliation: for each node, desired digests (pins of the projects it serves) against held
// digests (its last inventory), as an explicit table of (desired, held, unfinished job) -> action.
// Idempotent: running it twice, or after Redis lost its queues, converges to the same jobs.
import { syncJobKey } from '@cider/protocol';
import type { SyncJob } from '@cider/db';
import { recordAudit } from './audit.ts';
import { forgetProgress } from './progress-throttle.ts';
import { systemActor, type ServiceDeps } from './deps.ts';
import { asLabels, selectorMatches } from './projects.ts';

export interface DesiredImage {
  digest: string;
  reference: string;
  registryId: string;
}

export type ReconcileAction =
  | { kind: 'queue'; digest: string; job: SyncJob | undefined }
  /** Wanted and missing, but the node said its disk lacks the room for it: no new job until it has. */
  | { kind: 'held-back'; digest: string }
  | { kind: 'arrived'; job: SyncJob }
  | { kind: 'cancel'; job: SyncJob }
  | { kind: 'none' };

export const unfinishedStates = ['queued', 'dispatched', 'pulling'] as const;

/**
 * The decision table for one digest on one node. `noRoom`: the node's facts carry an
 * insufficient-space condition for the digest.
 */
export function decide(desired: boolean, held: boolean, unfinished: SyncJob | undefined, digest: string, noRoom = false): ReconcileAction {
  if (desired && !held && !unfinished && noRoom) return { kind: 'held-back', digest };
  if (desired && !held) return { kind: 'queue', digest, job: unfinished };
  if (held && unfinished) return { kind: 'arrived', job: unfinished };
  if (!desired && unfinished) return { kind: 'cancel', job: unfinished };
  return { kind: 'none' };
}

/** Desired images per node id, from every pin and every node's labels. */
export async function desiredImages(deps: ServiceDeps, nodeIds?: string[]): Promise<Map<string, Map<string, DesiredImage>>> {
  const [nodes, projects] = await Promise.all([
    deps.db.node.findMany({ where: { revokedAt: null, ...(nodeIds ? { id: { in: nodeIds } } : {}) } }),
    deps.db.project.findMany({ include: { pins: true } }),
  ]);
  const result = new Map<string, Map<string, DesiredImage>>();
  for (const node of nodes) {
    const labels = asLabels(node.labels);
    const desired = new Map<string, DesiredImage>();
    for (const project of projects) {
      if (!selectorMatches(asLabels(project.nodeSelector), labels)) continue;
      for (const pin of project.pins) desired.set(pin.digest, { digest: pin.digest, reference: pin.reference, registryId: pin.registryId });
    }
    result.set(node.id, desired);
  }
  return result;
}

/** Digests each node reported it has no room for (insufficient-space conditions in its facts). */
function noRoomByNode(nodes: { id: string; facts: unknown }[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const node of nodes) {
    const conditions = (node.facts as { conditions?: unknown } | null)?.conditions;
    if (!Array.isArray(conditions)) continue;
    const digests = new Set<string>();
    for (const c of conditions as { type?: unknown; digest?: unknown }[]) if (c?.type === 'insufficient-space' && typeof c.digest === 'string') digests.add(c.digest);
    if (digests.size > 0) result.set(node.id, digests);
  }
  return result;
}

export interface ReconcileSummary {
  nodes: number;
  queued: number;
  /** Wanted digests not queued because the node has no room for them. */
  heldBack: number;
  arrived: number;
  cancelled: number;
}

/** Reconciles the given nodes (all when omitted). */
export async function reconcileNodes(deps: ServiceDeps, nodeIds?: string[]): Promise<ReconcileSummary> {
  // One reconcile at a time across every control process: two running side by side could each
  // see a node lack a digest and both queue it. The lock lives as long as this transaction.
  return deps.db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('cider-reconcile'))`;
      return reconcileUnlocked(deps, nodeIds);
    },
    { timeout: 300_000, maxWait: 300_000 },
  );
}

async function reconcileUnlocked(deps: ServiceDeps, nodeIds?: string[]): Promise<ReconcileSummary> {
  const desiredByNode = await desiredImages(deps, nodeIds);
  const ids = [...desiredByNode.keys()];
  // Open jobs first, then held images, never both at once: a finishing job records its image
  // before it closes, so any job closed before the first read has its image seen by the second.
  // Read concurrently, a job could close in between unseen by both, and be queued twice.
  const unfinished = await deps.db.syncJob.findMany({ where: { nodeId: { in: ids }, state: { in: [...unfinishedStates] } } });
  const held = await deps.db.nodeImage.findMany({ where: { nodeId: { in: ids } }, select: { nodeId: true, digest: true } });
  const noRoom = noRoomByNode(await deps.db.node.findMany({ where: { id: { in: ids } }, select: { id: true, facts: true } }));
  const heldByNode = new Map<string, Set<string>>();
  for (const image of held) {
    let set = heldByNode.get(image.nodeId);
    if (!set) heldByNode.set(image.nodeId, (set = new Set()));
    set.add(image.digest);
  }
  const summary: ReconcileSummary = { nodes: ids.length, queued: 0, heldBack: 0, arrived: 0, cancelled: 0 };
  const toQueue: { nodeId: string; image: DesiredImage; existing: SyncJob | undefined }[] = [];
  for (const [nodeId, desired] of desiredByNode) {
    const heldHere = heldByNode.get(nodeId) ?? new Set<string>();
    const jobs = new Map(unfinished.filter((j) => j.nodeId === nodeId).map((j) => [j.digest, j]));
    const digests = new Set([...desired.keys(), ...heldHere, ...jobs.keys()]);
    for (const digest of digests) {
      const action = decide(desired.has(digest), heldHere.has(digest), jobs.get(digest), digest, noRoom.get(nodeId)?.has(digest));
      if (action.kind === 'held-back') summary.heldBack++;
      else if (action.kind === 'queue') {
        toQueue.push({ nodeId, image: desired.get(digest)!, existing: action.job });
        summary.queued++;
      } else if (action.kind === 'arrived') {
        await finishJob(deps, action.job, 'done', null);
        summary.arrived++;
      } else if (action.kind === 'cancel') {
        await cancelJob(deps, action.job, 'no pin asks for this image any more');
        summary.cancelled++;
      }
    }
  }
  await queueSyncs(deps, toQueue);
  return summary;
}

/**
 * Makes sure each unfinished SyncJob row and its BullMQ job exist; repeats collapse on the job
 * id. Done in bulk (one insert, one enqueue round trip, one publish pipeline): a pin on a
 * project of a thousand nodes is one reconcile.
 */
async function queueSyncs(deps: ServiceDeps, wanted: { nodeId: string; image: DesiredImage; existing: SyncJob | undefined }[]): Promise<void> {
  if (wanted.length === 0) return;
  const fresh = wanted.filter((w) => !w.existing);
  const created = fresh.length
    ? await deps.db.syncJob.createManyAndReturn({
        data: fresh.map(({ nodeId, image }) => ({ key: syncJobKey(nodeId, image.digest), nodeId, digest: image.digest, reference: image.reference, state: 'queued' as const })),
      })
    : [];
  const rows = new Map(created.map((row) => [row.key, row]));
  const jobs = wanted.map(({ nodeId, image, existing }) => {
    const key = syncJobKey(nodeId, image.digest);
    const row = existing ?? rows.get(key)!;
    return { key, payload: { syncJobId: row.id, nodeId, digest: image.digest, reference: image.reference, registryId: image.registryId } };
  });
  await deps.queues.addBulk('sync', jobs.map((j) => ({ payload: j.payload, jobId: j.key })));
  await deps.events.publishMany(created.map((row) => ({ type: 'sync.updated' as const, nodeId: row.nodeId, digest: row.digest, syncJobId: row.id, state: 'queued' })));
}

export async function finishJob(deps: ServiceDeps, job: SyncJob, state: 'done' | 'failed', error: string | null): Promise<void> {
  forgetProgress(job.id);
  await deps.db.syncJob.updateMany({
    where: { id: job.id, state: { in: [...unfinishedStates] } },
    data: { state, error, finishedAt: new Date(), ...(state === 'done' && job.bytesTotal !== null && job.bytesTotal > 0n ? { bytesDone: job.bytesTotal } : {}) },
  });
  await deps.events.publish({ type: 'sync.updated', nodeId: job.nodeId, digest: job.digest, syncJobId: job.id, state });
}

export async function cancelJob(deps: ServiceDeps, job: SyncJob, reason: string): Promise<void> {
  forgetProgress(job.id);
  const queued = await deps.queues.queue('sync').getJob(job.key);
  if (queued && !(await queued.isActive())) await queued.remove().catch(() => {});
  await deps.db.syncJob.updateMany({
    where: { id: job.id, state: { in: [...unfinishedStates] } },
    data: { state: 'cancelled', error: reason, finishedAt: new Date() },
  });
  await deps.db.$transaction((tx) => recordAudit(tx, systemActor, 'sync.cancel', { type: 'syncJob', id: job.id }, job, { reason }));
  await deps.events.publish({ type: 'sync.updated', nodeId: job.nodeId, digest: job.digest, syncJobId: job.id, state: 'cancelled' });
}

/** Node ids serving a project, for a project-scoped reconcile. */
export async function nodesServingProject(deps: ServiceDeps, projectId: string): Promise<string[]> {
  const project = await deps.db.project.findUnique({ where: { id: projectId } });
  if (!project) return [];
  const selector = asLabels(project.nodeSelector);
  const nodes = await deps.db.node.findMany({ where: { revokedAt: null }, select: { id: true, labels: true } });
  return nodes.filter((n) => selectorMatches(selector, asLabels(n.labels))).map((n) => n.id);
}
