// What agents report about the sync jobs they were sent, turned into lifecycle events
// (sync/transitions.ts decides what each does to the job).
import { parseReference } from '@cider/oci';
import type { HeldImage, PiecesProgress, RegistryAccess } from '@cider/protocol';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { replaceInventoryEntry } from '../nodes/inventory.ts';
import { shouldStoreProgress } from './progress-throttle.ts';
import { registryAccess } from '../registries/registries.ts';
import { isOpen, type BytesBySource } from './lifecycle.ts';
import { applySyncEvent } from './transitions.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function jobOfNode(deps: ServiceDeps, nodeId: string, jobId: string) {
  // Job ids are UUIDs; anything else is no job of ours (and would make PostgreSQL throw).
  const job = uuid.test(jobId) ? await deps.db.syncJob.findUnique({ where: { id: jobId } }) : null;
  if (!job || job.nodeId !== nodeId) throw new AppError('NOT_FOUND', `Node ${nodeId} reported on unknown sync job ${jobId}`);
  return job;
}

/**
 * Every report goes to the browser's live bars; the row (and the dispatcher's stall timer) hears
 * of it at most every couple of seconds per job, and at once when it changes the job's state.
 */
export async function recordProgress(
  deps: ServiceDeps,
  nodeId: string,
  report: { jobId: string; phase: string; bytesDone: number; bytesTotal: number; pieces?: PiecesProgress },
): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  if (!isOpen(job.state)) return;
  await deps.events.publish({
    type: 'sync.progress',
    nodeId,
    digest: job.digest,
    syncJobId: job.id,
    phase: report.phase,
    bytesDone: report.bytesDone,
    bytesTotal: report.bytesTotal,
  });
  if (job.state === 'pulling' && !shouldStoreProgress(job.id)) return;
  await applySyncEvent(deps, job, { type: 'progress', bytesDone: report.bytesDone, bytesTotal: report.bytesTotal, ...(report.pieces ? { pieces: report.pieces } : {}) });
}

/** The agent holds the digest: checked against what the job asked for before it counts. */
export async function recordDone(deps: ServiceDeps, nodeId: string, report: { jobId: string; digest: string; image: HeldImage; sources?: BytesBySource | undefined }): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  // Both the report and the image it describes must name the job's digest; anything else is
  // recorded as a failure and never as an image the node holds.
  const reported = report.digest !== job.digest ? report.digest : report.image.digest;
  if (reported !== job.digest) {
    await applySyncEvent(deps, job, { type: 'failed', error: `The agent reported ${reported}, but this job asked for ${job.digest}.`, retryable: false });
    return;
  }
  // The image first: reconcile reads open jobs before held images, so it never sees neither.
  await replaceInventoryEntry(deps, nodeId, report.image);
  const total = job.bytesTotal !== null && job.bytesTotal > 0n ? job.bytesTotal : BigInt(report.image.sizeBytes);
  await applySyncEvent(deps, job, { type: 'done', bytesTotal: total, ...(report.sources ? { sources: report.sources } : {}) });
}

/** A failed attempt: queued again with its error when another may help, failed otherwise. */
export async function recordFailure(
  deps: ServiceDeps,
  nodeId: string,
  report: { jobId: string; code: string; message: string; retryable: boolean },
): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  await applySyncEvent(deps, job, { type: 'failed', error: report.message, retryable: report.retryable });
}

/** The agent stopped a job it was told to cancel (its verified partial data kept for a later resume). */
export async function recordCancelled(deps: ServiceDeps, nodeId: string, report: { jobId: string }): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  await applySyncEvent(deps, job, { type: 'cancelled' });
}

/**
 * A fresh registry grant for a job the agent is still running (its token expired mid-pull):
 * only for the node the job belongs to, only while the job is unfinished.
 */
export async function grantForJob(deps: ServiceDeps, nodeId: string, jobId: string): Promise<RegistryAccess> {
  const job = await jobOfNode(deps, nodeId, jobId);
  if (!isOpen(job.state) || job.state === 'cancelling') throw new AppError('CONFLICT', `Sync job ${jobId} is ${job.state}: it gets no new registry grant.`);
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node || node.revokedAt) throw new AppError('FORBIDDEN', 'This node was revoked by an admin.');
  const reference = parseReference(job.reference);
  const registry = await deps.db.registry.findFirst({ where: { host: { equals: reference.registry, mode: 'insensitive' } }, orderBy: { createdAt: 'asc' } });
  if (!registry) throw new AppError('NOT_FOUND', `The registry of ${job.reference} is no longer connected.`);
  return registryAccess(deps, registry, { syncJobId: job.id, nodePublicKey: node.publicKey, repository: reference.repository, fresh: true });
}
