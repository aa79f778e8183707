// Sync job history for the dashboard (newest first, filtered, keyset-paginated), and the two
// things an admin may do to one: retry a failed job (a reconcile of its node decides whether the
// image is still wanted and queues a fresh job) and cancel an unfinished one.
import type { Prisma, SyncJob, SyncJobState } from '@cider/db';
import { AppError } from '../errors.ts';
import { recordAudit } from './audit.ts';
import type { Actor, ServiceDeps } from './deps.ts';
import { cancelJob, reconcileNodes, unfinishedStates } from './reconcile.ts';

export const syncJobStates = ['queued', 'dispatched', 'pulling', 'done', 'failed', 'cancelled'] as const satisfies readonly SyncJobState[];
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
  const finished = !(unfinishedStates as readonly string[]).includes(job.state);
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
  if (filter.state === 'unfinished') where.push({ state: { in: [...unfinishedStates] } });
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
    deps.db.syncJob.findFirst({ where: { nodeId: job.nodeId, digest: job.digest, state: { in: [...unfinishedStates] } }, orderBy: { createdAt: 'desc' } }),
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
 * Stops an unfinished job through reconcile's cancelJob (queue entry removed, row cancelled, the
 * agent told through the event). A pin that still asks for the image queues it again on the next
 * reconcile: to keep it off a node, change the pin or the node's labels.
 */
export async function cancelSyncJob(deps: ServiceDeps, actor: Actor, jobId: string): Promise<{ ok: true }> {
  const job = await loadJob(deps, jobId);
  if (!(unfinishedStates as readonly string[]).includes(job.state)) throw new AppError('CONFLICT', `This sync job has already ended (${job.state}).`);
  // cancelJob records its own audit event as `system`; this one says who asked.
  await deps.db.$transaction((tx) => recordAudit(tx, actor, 'sync.cancel.request', { type: 'syncJob', id: job.id }, job, undefined));
  const { node: _node, ...row } = job;
  await cancelJob(deps, row, `Cancelled by ${actor.label}`);
  return { ok: true };
}
