// What agents report about the sync jobs they were sent.
import type { SyncJob } from '@cider/db';
import { parseReference } from '@cider/oci';
import type { HeldImage, RegistryAccess } from '@cider/protocol';
import { AppError } from '../errors.ts';
import type { ServiceDeps } from './deps.ts';
import { replaceInventoryEntry } from './inventory.ts';
import { forgetProgress, shouldStoreProgress } from './progress-throttle.ts';
import { finishJob, unfinishedStates } from './reconcile.ts';
import { registryAccess } from './registries.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function jobOfNode(deps: ServiceDeps, nodeId: string, jobId: string) {
  // Job ids are UUIDs; anything else is no job of ours (and would make PostgreSQL throw).
  const job = uuid.test(jobId) ? await deps.db.syncJob.findUnique({ where: { id: jobId } }) : null;
  if (!job || job.nodeId !== nodeId) throw new AppError('NOT_FOUND', `Node ${nodeId} reported on unknown sync job ${jobId}`);
  return job;
}

export async function markDispatched(deps: ServiceDeps, job: SyncJob, attempt: number): Promise<void> {
  await deps.db.syncJob.updateMany({
    where: { id: job.id, state: { in: [...unfinishedStates] } },
    data: { state: 'dispatched', attempts: attempt, startedAt: job.startedAt ?? new Date(), error: null },
  });
  await deps.events.publish({ type: 'sync.updated', nodeId: job.nodeId, digest: job.digest, syncJobId: job.id, state: 'dispatched' });
}

export async function recordProgress(
  deps: ServiceDeps,
  nodeId: string,
  report: { jobId: string; phase: string; bytesDone: number; bytesTotal: number },
): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  if (!(unfinishedStates as readonly string[]).includes(job.state)) return;
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
  await deps.db.syncJob.updateMany({
    where: { id: job.id, state: { in: [...unfinishedStates] } },
    data: { state: 'pulling', bytesDone: BigInt(report.bytesDone), bytesTotal: BigInt(report.bytesTotal) },
  });
  if (job.state !== 'pulling') await deps.events.publish({ type: 'sync.updated', nodeId, digest: job.digest, syncJobId: job.id, state: 'pulling' });
}

/** The agent holds the digest: checked against what the job asked for before it counts. */
export async function recordDone(deps: ServiceDeps, nodeId: string, report: { jobId: string; digest: string; image: HeldImage }): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  forgetProgress(job.id);
  // Both the report and the image it describes must name the job's digest; anything else is
  // recorded as a failure and never as an image the node holds.
  const reported = report.digest !== job.digest ? report.digest : report.image.digest;
  if (reported !== job.digest) {
    await finishJob(deps, job, 'failed', `The agent reported ${reported}, but this job asked for ${job.digest}.`);
    return;
  }
  await replaceInventoryEntry(deps, nodeId, report.image);
  // The first progress report ("queued") says 0 of 0: the image's size is the better total then.
  const total = job.bytesTotal && job.bytesTotal > 0n ? job.bytesTotal : BigInt(report.image.sizeBytes);
  await deps.db.syncJob.updateMany({ where: { id: job.id }, data: { bytesDone: total, bytesTotal: total } });
  await finishJob(deps, { ...job, bytesTotal: total }, 'done', null);
}

/** A failed attempt: the error is kept on the row; the dispatcher decides about retrying. */
export async function recordFailure(
  deps: ServiceDeps,
  nodeId: string,
  report: { jobId: string; code: string; message: string; retryable: boolean },
): Promise<void> {
  const job = await jobOfNode(deps, nodeId, report.jobId);
  forgetProgress(job.id);
  await deps.db.syncJob.updateMany({ where: { id: job.id }, data: { error: report.message } });
  const state = report.retryable ? 'attempt-failed' : 'attempt-failed-permanent';
  await deps.events.publish({ type: 'sync.updated', nodeId, digest: job.digest, syncJobId: job.id, state });
}

/**
 * A fresh registry grant for a job the agent is still running (its token expired mid-pull):
 * only for the node the job belongs to, only while the job is unfinished.
 */
export async function grantForJob(deps: ServiceDeps, nodeId: string, jobId: string): Promise<RegistryAccess> {
  const job = await jobOfNode(deps, nodeId, jobId);
  if (!(unfinishedStates as readonly string[]).includes(job.state)) throw new AppError('CONFLICT', `Sync job ${jobId} is ${job.state}: it gets no new registry grant.`);
  const node = await deps.db.node.findUnique({ where: { id: nodeId } });
  if (!node || node.revokedAt) throw new AppError('FORBIDDEN', 'This node was revoked by an admin.');
  const reference = parseReference(job.reference);
  const registry = await deps.db.registry.findFirst({ where: { host: { equals: reference.registry, mode: 'insensitive' } }, orderBy: { createdAt: 'asc' } });
  if (!registry) throw new AppError('NOT_FOUND', `The registry of ${job.reference} is no longer connected.`);
  return registryAccess(deps, registry, { syncJobId: job.id, nodePublicKey: node.publicKey, repository: reference.repository, fresh: true });
}
