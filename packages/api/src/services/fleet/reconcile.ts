// Reconciliation: for each node, desired digests (desired-state.ts) against held digests (its last
// inventory), as an explicit table of (desired, held, open job) -> action. Idempotent: running it
// twice, or after Redis lost its queues, converges to the same jobs. What an action does to a job
// is the sync job lifecycle's to decide (sync/transitions.ts).
import type { SyncJob } from '@cider/db';
import { syncJobKey } from '@cider/protocol';
import type { ServiceDeps } from '../deps.ts';
import { loadDesiredState, type DesiredImage, type DesiredScope } from './desired-state.ts';
import { openStates } from '../sync/lifecycle.ts';
import { applySyncEvent, openSyncJobs } from '../sync/transitions.ts';

export type ReconcileAction =
  | { kind: 'queue'; digest: string; job: SyncJob | undefined }
  /** Wanted and missing, but the node said its disk lacks the room for it: no new job until it has. */
  | { kind: 'held-back'; digest: string }
  | { kind: 'arrived'; job: SyncJob }
  | { kind: 'cancel'; job: SyncJob }
  | { kind: 'none' };

/**
 * The decision table for one digest on one node. `open`: the node's open sync job for it. `noRoom`:
 * the node's facts carry an insufficient-space condition for the digest. A job being cancelled is
 * left to finish cancelling; if a pin still wants the digest, the next reconcile after it queues it.
 */
export function decide(desired: boolean, held: boolean, open: SyncJob | undefined, digest: string, noRoom = false): ReconcileAction {
  if (held && open) return { kind: 'arrived', job: open };
  if (open?.state === 'cancelling') return { kind: 'none' };
  if (desired && !held && !open && noRoom) return { kind: 'held-back', digest };
  if (desired && !held) return { kind: 'queue', digest, job: open };
  if (!desired && open) return { kind: 'cancel', job: open };
  return { kind: 'none' };
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

type Desired = Awaited<ReturnType<typeof loadDesiredState>>;

/** Reconciles the given nodes (all when omitted). */
export async function reconcileNodes(deps: ServiceDeps, nodeIds?: string[]): Promise<ReconcileSummary> {
  return (await reconcile(deps, nodeIds ? { nodeIds } : {})).summary;
}

/** Reconciles a scope; returns the desired state it computed (once) along with what it did. */
export async function reconcile(deps: ServiceDeps, scope: DesiredScope): Promise<{ summary: ReconcileSummary; desired: Desired }> {
  // One reconcile at a time across every control process: two running side by side could each
  // see a node lack a digest and both queue it. The lock lives as long as this transaction.
  return deps.db.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('cider-reconcile'))`;
      const desired = await loadDesiredState(deps, scope);
      return { summary: await reconcileUnlocked(deps, desired), desired };
    },
    { timeout: 300_000, maxWait: 300_000 },
  );
}

async function reconcileUnlocked(deps: ServiceDeps, desired: Desired): Promise<ReconcileSummary> {
  const ids = desired.nodes.map((n) => n.id);
  // Open jobs first, then held images, never both at once: a finishing job records its image
  // before it closes, so any job closed before the first read has its image seen by the second.
  // Read concurrently, a job could close in between unseen by both, and be queued twice.
  const open = await deps.db.syncJob.findMany({ where: { nodeId: { in: ids }, state: { in: [...openStates] } } });
  const held = await deps.db.nodeImage.findMany({ where: { nodeId: { in: ids } }, select: { nodeId: true, digest: true } });
  const noRoom = noRoomByNode(desired.nodes);
  const heldByNode = new Map<string, Set<string>>();
  for (const image of held) {
    let set = heldByNode.get(image.nodeId);
    if (!set) heldByNode.set(image.nodeId, (set = new Set()));
    set.add(image.digest);
  }
  const openByNode = new Map<string, Map<string, SyncJob>>();
  for (const job of open) {
    let jobs = openByNode.get(job.nodeId);
    if (!jobs) openByNode.set(job.nodeId, (jobs = new Map()));
    jobs.set(job.digest, job);
  }
  const summary: ReconcileSummary = { nodes: ids.length, queued: 0, heldBack: 0, arrived: 0, cancelled: 0 };
  const toQueue: { nodeId: string; image: DesiredImage; existing: SyncJob | undefined }[] = [];
  for (const { id: nodeId } of desired.nodes) {
    const wanted = desired.pinsOf(nodeId);
    const heldHere = heldByNode.get(nodeId) ?? new Set<string>();
    const jobs = openByNode.get(nodeId) ?? new Map<string, SyncJob>();
    for (const digest of new Set([...wanted.keys(), ...heldHere, ...jobs.keys()])) {
      const action = decide(wanted.has(digest), heldHere.has(digest), jobs.get(digest), digest, noRoom.get(nodeId)?.has(digest));
      if (action.kind === 'held-back') summary.heldBack++;
      else if (action.kind === 'queue') {
        toQueue.push({ nodeId, image: wanted.get(digest)!, existing: action.job });
        summary.queued++;
      } else if (action.kind === 'arrived') {
        if ((await applySyncEvent(deps, action.job, { type: 'done' })).applied) summary.arrived++;
      } else if (action.kind === 'cancel') {
        const result = await applySyncEvent(deps, action.job, { type: 'cancel', reason: 'no pin asks for this image any more', agentReachable: true });
        if (result.applied) summary.cancelled++;
      }
    }
  }
  await queueSyncs(deps, toQueue);
  return summary;
}

/**
 * Makes sure each open SyncJob row and its BullMQ job exist; repeats collapse on the job id. Done
 * in bulk (one insert, one enqueue round trip, one publish pipeline): a pin on a project of a
 * thousand nodes is one reconcile.
 */
async function queueSyncs(deps: ServiceDeps, wanted: { nodeId: string; image: DesiredImage; existing: SyncJob | undefined }[]): Promise<void> {
  if (wanted.length === 0) return;
  const { created, announce } = await openSyncJobs(
    deps,
    wanted.filter((w) => !w.existing).map(({ nodeId, image }) => ({ nodeId, digest: image.digest, reference: image.reference })),
  );
  const rows = new Map(created.map((row) => [row.key, row]));
  await deps.queues.addBulk(
    'sync',
    wanted.map(({ nodeId, image, existing }) => {
      const row = existing ?? rows.get(syncJobKey(nodeId, image.digest))!;
      return { jobId: row.key, payload: { syncJobId: row.id, nodeId, digest: image.digest, reference: image.reference, registryId: image.registryId } };
    }),
  );
  await announce();
}
