// Sync job history for the dashboard (newest first, filtered, keyset-paginated), and the two
// things an admin may do to one: retry a failed job (a reconcile of its node decides whether the
// image is still wanted and queues a fresh job) and cancel an unfinished one.
import type { Prisma, SyncJob, SyncJobState } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { reconcileNodes } from '../fleet/reconcile.ts';
import { isOpen, openStates } from './lifecycle.ts';
import { applySyncEvent } from './transitions.ts';

/** A state, or every state that is not finished yet. */
export type JobStateFilter = SyncJobState | 'unfinished';

export interface JobFilter {
  state?: JobStateFilter;
  nodeId?: string;
  /** A full digest or its beginning (`sha256:` optional). */
  digest?: string;
  /** From the previous page's `nextCursor`. */
  cursor?: string;
  limit?: number;
}

type JobWithNode = SyncJob & { node: { id: string; name: string } };

export function jobView(job: JobWithNode) {
  const finished = !isOpen(job.state);
  return {
    id: job.id,
    node: { id: job.node.id, name: job.node.name },
    reference: job.reference,
    digest: job.digest,
    state: job.state,
    bytesDone: Number(job.bytesDone),
    bytesTotal: job.bytesTotal === null ? null : Number(job.bytesTotal),
    attempts: job.attempts,
    error: job.error,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    /** From start (or creation) to finish; null while running. */
    durationMs: finished && job.finishedAt ? job.finishedAt.getTime() - (job.startedAt ?? job.createdAt).getTime() : null,
    /** Where a finished pull's bytes came from; null until its agent reported them (older agents never do). */
    sources: sourcesOf(job),
  };
}

/** The job's bytes by source, with how many peers fed it; `origin`: the tracker let it fetch from the registry. */
function sourcesOf(job: SyncJob) {
  if (job.bytesFromRegistry === null) return null;
  const peers = job.peerSources && typeof job.peerSources === 'object' && !Array.isArray(job.peerSources) ? Object.keys(job.peerSources).length : 0;
  return {
    origin: job.origin,
    registry: Number(job.bytesFromRegistry),
    mirror: Number(job.bytesFromMirror ?? 0),
    peers: Number(job.bytesFromPeers ?? 0),
    peerCount: peers,
  };
}
export type JobView = ReturnType<typeof jobView>;

/** `<createdAt ISO>_<id>`: the position after the last job of a page. */
function encodeCursor(job: SyncJob): string {
  return `${job.createdAt.toISOString()}_${job.id}`;
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = cursor.split('_');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw new AppError('BAD_REQUEST', 'That page of jobs no longer exists; start from the first page.');
  return { createdAt, id };
}

function digestPrefix(value: string): string {
  const text = value.trim().toLowerCase();
  const digest = text.includes(':') ? text : `sha256:${text}`;
  if (!/^sha256:[0-9a-f]{1,64}$/.test(digest)) throw new AppError('BAD_REQUEST', `"${value}" is not a digest: sha256: followed by hex digits (the start is enough).`);
  return digest;
}

export async function listJobs(deps: ServiceDeps, filter: JobFilter = {}): Promise<{ items: JobView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  const where: Prisma.SyncJobWhereInput[] = [];
  if (filter.state === 'unfinished') where.push({ state: { in: [...openStates] } });
  else if (filter.state) where.push({ state: filter.state });
  if (filter.nodeId) where.push({ nodeId: filter.nodeId });
  if (filter.digest) {
    const digest = digestPrefix(filter.digest);
    where.push(digest.length === 71 ? { digest } : { digest: { startsWith: digest } });
  }
  if (filter.cursor) {
    const { createdAt, id } = decodeCursor(filter.cursor);
    where.push({ OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] });
  }
  const rows = await deps.db.syncJob.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: limit + 1,
    include: { node: { select: { id: true, name: true } } },
  });
  const page = rows.slice(0, limit);
  return { items: page.map(jobView), nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!) : null };
}

async function loadJob(deps: ServiceDeps, jobId: string): Promise<JobWithNode> {
  const job = await deps.db.syncJob.findUnique({ where: { id: jobId }, include: { node: { select: { id: true, name: true } } } });
  if (!job) throw new AppError('NOT_FOUND', 'No such sync job.');
  return job;
}

export async function getJob(deps: ServiceDeps, jobId: string) {
  const job = await loadJob(deps, jobId);
  return { ...jobView(job), key: job.key };
}

/**
 * A failed job is finished history and stays so. Retrying reconciles its node now: when a pin
 * still asks for the digest and the node lacks it, reconcile queues a fresh job (the normal path,
 * with its collapsing job id); otherwise there is nothing to retry and the answer says why.
 */
export async function retryJob(deps: ServiceDeps, actor: Actor, jobId: string): Promise<{ queued: boolean; syncJobId: string | null; message: string }> {
  const job = await loadJob(deps, jobId);
  if (job.state !== 'failed') throw new AppError('CONFLICT', `Only failed sync jobs can be retried; this one is ${job.state}.`);
  const node = await deps.db.node.findUnique({ where: { id: job.nodeId } });
  if (!node || node.revokedAt) throw new AppError('CONFLICT', `Node ${job.node.name} was revoked; it gets no more sync jobs.`);

  const summary = await reconcileNodes(deps, [job.nodeId]);
  const [fresh, held] = await Promise.all([
    deps.db.syncJob.findFirst({ where: { nodeId: job.nodeId, digest: job.digest, state: { in: [...openStates] } }, orderBy: { createdAt: 'desc' } }),
    deps.db.nodeImage.findUnique({ where: { nodeId_digest: { nodeId: job.nodeId, digest: job.digest } } }),
  ]);
  const message = fresh
    ? `Queued ${job.reference} for ${job.node.name} again.`
    : held
      ? `${job.node.name} holds this image now; there is nothing to retry.`
      : `No pin asks for this image on ${job.node.name} any more, so nothing was queued.`;
  await deps.db.$transaction((tx) => recordAudit(tx, actor, 'sync.retry', { type: 'syncJob', id: job.id }, job, { newSyncJobId: fresh?.id ?? null, message, summary }));
  return { queued: fresh !== null, syncJobId: fresh?.id ?? null, message };
}

/**
 * Cancels an open job. One that never reached the node is cancelled at once; one the node's agent
 * may be running is `cancelling` until the agent confirms it stopped (keeping what it verified
 * for a later resume), or until its next hello if it is away. A pin that still asks for the image
 * queues it again on a later reconcile: to keep it off a node, change the pin or the node's labels.
 */
export async function cancelSyncJob(deps: ServiceDeps, actor: Actor, jobId: string): Promise<{ ok: true; state: SyncJobState; message: string }> {
  const job = await loadJob(deps, jobId);
  if (!isOpen(job.state)) throw new AppError('CONFLICT', `This sync job has already ended (${job.state}).`);
  if (job.state === 'cancelling') throw new AppError('CONFLICT', 'This sync job is already being cancelled; its node has been told.');
  const node = await deps.db.node.findUnique({ where: { id: job.nodeId }, select: { revokedAt: true } });
  // The lifecycle records its own audit event as `system`; this one says who asked.
  await deps.db.$transaction((tx) => recordAudit(tx, actor, 'sync.cancel.request', { type: 'syncJob', id: job.id }, job, undefined));
  const { node: _node, ...row } = job;
  const result = await applySyncEvent(deps, row, { type: 'cancel', reason: `Cancelled by ${actor.label}`, agentReachable: node !== null && node.revokedAt === null });
  if (!result.applied || !result.job) throw new AppError('CONFLICT', `This sync job has just ended (${result.job?.state ?? 'removed'}).`);
  const where = `${job.reference} on ${job.node.name}`;
  return result.job.state === 'cancelling'
    ? { ok: true, state: 'cancelling', message: `Cancelling the sync of ${where}: its agent stops the download and keeps what it verified for a later resume. If a pin still asks for it, a later reconcile queues it again.` }
    : { ok: true, state: result.job.state, message: `Cancelled the sync of ${where}. If a pin still asks for it, a later reconcile queues it again.` };
}
