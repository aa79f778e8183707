// Server tasks for the dashboard: the row is the truth (state, progress, result, error); the
// BullMQ job `task-<id>` only runs it, in the control plane (./run.ts). Listing is newest first
// and keyset-paginated; cancel is asked for on the row, where the running task sees it within a
// second; a task whose process went away is failed by the sweep, never left running.
import type { Prisma, ServerTask } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import type { TaskParams } from './kinds.ts';
import { interruptedMessage, isTaskFinished, type ServerTaskKindName, type ServerTaskStateName } from './states.ts';

export const dbKind = { 'publish-apple': 'publish_apple', 'bundle-export': 'bundle_export' } as const;
const kindName = { publish_apple: 'publish-apple', bundle_export: 'bundle-export' } as const satisfies Record<ServerTask['kind'], ServerTaskKindName>;

/** A running task's row is touched every second (./run.ts); one untouched for this long lost its process. */
export const staleRunningMs = 15_000;

export function taskJobId(taskId: string): string {
  return `task-${taskId}`;
}

type TaskWithUser = ServerTask & { createdBy: { email: string } | null };

export function taskView(task: TaskWithUser) {
  const params = (task.params ?? {}) as Record<string, unknown>;
  return {
    id: task.id,
    kind: kindName[task.kind],
    /** What it works on, in a line: "macOS 15.2 (24C101) → registry/repo", "Project X → /bundles/x.tar". */
    title: titleOf(kindName[task.kind], params),
    state: task.state as ServerTaskStateName,
    bytesDone: Number(task.bytesDone),
    bytesTotal: task.bytesTotal === null ? null : Number(task.bytesTotal),
    message: task.message,
    result: (task.result ?? null) as { digest?: string; references?: string[]; path?: string; bytes?: number; registryId?: string; repository?: string; tag?: string } | null,
    error: task.error,
    cancelRequested: task.cancelRequested,
    createdBy: task.createdBy?.email ?? null,
    createdAt: task.createdAt,
    startedAt: task.startedAt,
    finishedAt: task.finishedAt,
  };
}
export type TaskView = ReturnType<typeof taskView>;

function titleOf(kind: ServerTaskKindName, params: Record<string, unknown>): string {
  const text = (key: string) => (typeof params[key] === 'string' ? (params[key] as string) : '?');
  return kind === 'publish-apple'
    ? `macOS ${text('version')} (${text('build')}) → ${text('registryHost')}/${text('repository')}`
    : `Bundle of ${text('projectName')} → ${text('path')}`;
}

const withUser = { createdBy: { select: { email: true } } } as const;

/** Writes the row and its audit event together, then queues it (a lost enqueue is redone by the sweep). */
export async function createTask(deps: ServiceDeps, actor: Actor, task: TaskParams, auditAction: string): Promise<TaskView> {
  const row = await deps.db.$transaction(async (tx) => {
    const created = await tx.serverTask.create({
      data: { kind: dbKind[task.kind], params: task.params as Prisma.InputJsonValue, createdById: actor.userId ?? null, message: 'Waiting for the control plane' },
      include: withUser,
    });
    await recordAudit(tx, actor, auditAction, { type: 'serverTask', id: created.id }, undefined, { kind: task.kind, ...task.params });
    return created;
  });
  await deps.queues.add('server-task', { taskId: row.id }, { jobId: taskJobId(row.id) });
  void deps.events.publish({ type: 'task.updated', taskId: row.id, state: 'queued' });
  return taskView(row);
}

function encodeCursor(task: ServerTask): string {
  return `${task.createdAt.toISOString()}_${task.id}`;
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = cursor.split('_');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) throw new AppError('BAD_REQUEST', 'That page of tasks no longer exists; start from the first page.');
  return { createdAt, id };
}

export async function listTasks(
  deps: ServiceDeps,
  filter: { kind?: ServerTaskKindName; projectId?: string; cursor?: string; limit?: number } = {},
): Promise<{ items: TaskView[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 20, 1), 100);
  const where: Prisma.ServerTaskWhereInput[] = [];
  if (filter.kind) where.push({ kind: dbKind[filter.kind] });
  // A project's page lists only its own bundle exports (their params name the project).
  if (filter.projectId) where.push({ params: { path: ['projectId'], equals: filter.projectId } });
  if (filter.cursor) {
    const { createdAt, id } = decodeCursor(filter.cursor);
    where.push({ OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] });
  }
  const rows = await deps.db.serverTask.findMany({ where: { AND: where }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit + 1, include: withUser });
  const page = rows.slice(0, limit);
  return { items: page.map(taskView), nextCursor: rows.length > limit ? encodeCursor(page.at(-1)!) : null };
}

export async function getTask(deps: ServiceDeps, taskId: string): Promise<TaskView> {
  const row = await deps.db.serverTask.findUnique({ where: { id: taskId }, include: withUser });
  if (!row) throw new AppError('NOT_FOUND', 'No such task.');
  return taskView(row);
}

/**
 * A queued task is cancelled at once; a running one is asked to stop (its runner reads the row
 * every second and aborts, removing what it wrote part-way).
 */
export async function cancelTask(deps: ServiceDeps, actor: Actor, taskId: string): Promise<{ state: ServerTaskStateName; message: string }> {
  const row = await deps.db.serverTask.findUnique({ where: { id: taskId } });
  if (!row) throw new AppError('NOT_FOUND', 'No such task.');
  if (isTaskFinished(row.state)) throw new AppError('CONFLICT', `This task has already ended (${row.state}).`);
  const now = new Date();
  // Conditional updates: whichever of cancel and start lands first wins, the other sees the change.
  const cancelledQueued = await deps.db.serverTask.updateMany({
    where: { id: taskId, state: 'queued' },
    data: { state: 'cancelled', cancelRequested: true, finishedAt: now, message: null, error: `Cancelled by ${actor.label}` },
  });
  if (cancelledQueued.count === 0) {
    const asked = await deps.db.serverTask.updateMany({ where: { id: taskId, state: 'running' }, data: { cancelRequested: true, message: 'Cancelling' } });
    if (asked.count === 0) throw new AppError('CONFLICT', 'This task has just ended.');
  }
  await deps.db.$transaction((tx) => recordAudit(tx, actor, 'task.cancel', { type: 'serverTask', id: taskId }, { state: row.state }, undefined));
  const state = cancelledQueued.count > 0 ? 'cancelled' : 'running';
  void deps.events.publish({ type: 'task.updated', taskId, state });
  return cancelledQueued.count > 0 ? { state, message: 'Cancelled before it started.' } : { state, message: 'Cancelling: the task stops within a few seconds and removes what it wrote part-way.' };
}

/**
 * Heals what a lost process or a lost queue left: running tasks whose row stopped moving are
 * failed ("start it again"), and queued ones are queued again (the job id collapses repeats).
 * Control runs it at start and every few seconds.
 */
export async function sweepTasks(deps: ServiceDeps, now = new Date()): Promise<{ interrupted: string[]; requeued: number }> {
  const stale = await deps.db.serverTask.findMany({ where: { state: 'running', updatedAt: { lt: new Date(now.getTime() - staleRunningMs) } }, select: { id: true }, take: 500 });
  const interrupted: string[] = [];
  for (const { id } of stale) {
    const { count } = await deps.db.serverTask.updateMany({
      where: { id, state: 'running', updatedAt: { lt: new Date(now.getTime() - staleRunningMs) } },
      data: { state: 'failed', error: interruptedMessage, message: null, finishedAt: now },
    });
    if (count > 0) interrupted.push(id);
  }
  await deps.events.publishMany(interrupted.map((taskId) => ({ type: 'task.updated', taskId, state: 'failed' }) as const));
  const queued = await deps.db.serverTask.findMany({ where: { state: 'queued', createdAt: { lt: new Date(now.getTime() - 10_000) } }, select: { id: true }, take: 500 });
  if (queued.length > 0) await deps.queues.addBulk('server-task', queued.map(({ id }) => ({ payload: { taskId: id }, jobId: taskJobId(id) })));
  return { interrupted, requeued: queued.length };
}
