// Runs one server task in the control plane. The row is claimed (queued -> running) by one
// conditional update, so a job delivered twice runs once. While it runs, a ticker writes the row
// about once a second: progress when it moved (and a task.progress event), else only a heartbeat,
// and reads back whether an admin asked to cancel. A task ends succeeded, failed (with what went
// wrong in the user's words) or cancelled; one whose process stops is failed as interrupted.
import type { BundleProgress } from '@cider/oci';
import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import { clientFor, clientForRegistries } from '../registries/registries.ts';
import { checkBundlePath } from './bundle-path.ts';
import { taskConfigOf } from './config.ts';
import { parseTaskParams, type BundleExportParams, type PublishAppleParams } from './kinds.ts';
import type { TaskProgress } from './runners.ts';
import { interruptedMessage, type ServerTaskStateName } from './states.ts';
import { staleRunningMs } from './tasks.ts';

export interface RunTaskOptions {
  /** Aborted when this process stops: the task ends failed as interrupted. */
  shutdown: AbortSignal;
  /** How often the row is written (default 1 s). */
  tickMs?: number;
}

type Outcome = { state: 'succeeded'; result: Prisma.InputJsonValue; bytes: number } | { state: 'failed' | 'cancelled'; error: string };

class Cancelled extends Error {}

/** Runs the task if it is still queued; returns the state it ended in (or found it in). */
export async function runServerTask(deps: ServiceDeps, taskId: string, options: RunTaskOptions): Promise<ServerTaskStateName> {
  const now = new Date();
  const claimed = await deps.db.serverTask.updateMany({ where: { id: taskId, state: 'queued' }, data: { state: 'running', startedAt: now, message: 'Starting' } });
  if (claimed.count === 0) return settleUnclaimed(deps, taskId);
  void deps.events.publish({ type: 'task.updated', taskId, state: 'running' });
  const row = await deps.db.serverTask.findUniqueOrThrow({ where: { id: taskId } });

  const work = new AbortController();
  const onShutdown = () => work.abort(new AppError('INTERNAL', interruptedMessage));
  options.shutdown.addEventListener('abort', onShutdown, { once: true });
  if (options.shutdown.aborted) onShutdown();
  let progress: TaskProgress = { bytesDone: 0, bytesTotal: null, message: 'Starting' };
  let written = progress;
  let cancelledBy: string | undefined;
  const tick = async () => {
    const moved = progress !== written;
    const current = progress;
    const updated = await deps.db.serverTask.update({
      where: { id: taskId },
      data: moved ? { bytesDone: BigInt(current.bytesDone), bytesTotal: current.bytesTotal === null ? null : BigInt(current.bytesTotal), message: current.message ?? null, updatedAt: new Date() } : { updatedAt: new Date() },
      select: { cancelRequested: true },
    });
    written = current;
    if (moved) void deps.events.publish({ type: 'task.progress', taskId, bytesDone: current.bytesDone, bytesTotal: current.bytesTotal, message: current.message ?? null });
    if (updated.cancelRequested && !work.signal.aborted) {
      cancelledBy = 'Cancelled from the dashboard.';
      work.abort(new Cancelled(cancelledBy));
    }
  };
  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking.then(tick).catch(() => {}); // PostgreSQL away for a moment: the next tick writes it
  }, options.tickMs ?? 1_000);
  const report = (next: TaskProgress) => {
    progress = next;
  };

  let outcome: Outcome;
  try {
    const task = parseTaskParams(row.kind === 'publish_apple' ? 'publish-apple' : 'bundle-export', row.params);
    const done = task.kind === 'publish-apple' ? await publishFromApple(deps, task.params, report, work.signal) : await exportBundle(deps, task.params, report, work.signal);
    outcome = { state: 'succeeded', ...done };
  } catch (error) {
    if (cancelledBy) outcome = { state: 'cancelled', error: cancelledBy };
    else if (options.shutdown.aborted) outcome = { state: 'failed', error: interruptedMessage };
    else outcome = { state: 'failed', error: describe(error) };
  } finally {
    clearInterval(timer);
    options.shutdown.removeEventListener('abort', onShutdown);
    await ticking;
  }
  const finishedAt = new Date();
  await deps.db.serverTask.updateMany({
    where: { id: taskId, state: 'running' },
    data:
      outcome.state === 'succeeded'
        ? { state: 'succeeded', result: outcome.result, bytesDone: BigInt(outcome.bytes), bytesTotal: BigInt(outcome.bytes), message: null, finishedAt }
        : { state: outcome.state, error: outcome.error.slice(0, 2000), message: null, finishedAt },
  });
  void deps.events.publish({ type: 'task.updated', taskId, state: outcome.state });
  return outcome.state;
}

/** Someone else claimed it, or it ended; a running row nobody touches any more lost its process. */
async function settleUnclaimed(deps: ServiceDeps, taskId: string): Promise<ServerTaskStateName> {
  const row = await deps.db.serverTask.findUnique({ where: { id: taskId }, select: { state: true, updatedAt: true } });
  if (!row) return 'cancelled';
  if (row.state === 'running' && Date.now() - row.updatedAt.getTime() > staleRunningMs) {
    const { count } = await deps.db.serverTask.updateMany({ where: { id: taskId, state: 'running', updatedAt: row.updatedAt }, data: { state: 'failed', error: interruptedMessage, message: null, finishedAt: new Date() } });
    if (count > 0) void deps.events.publish({ type: 'task.updated', taskId, state: 'failed' });
    return 'failed';
  }
  return row.state;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function publishFromApple(deps: ServiceDeps, params: PublishAppleParams, report: (p: TaskProgress) => void, signal: AbortSignal) {
  const { runners } = taskConfigOf(deps);
  const registry = await deps.db.registry.findUnique({ where: { id: params.registryId } });
  if (!registry) throw new AppError('NOT_FOUND', `The registry ${params.registryHost} was removed; connect it again and start the task again.`);
  const client = clientFor(deps, registry);
  try {
    report({ bytesDone: 0, bytesTotal: null, message: `Reading ${params.url}` });
    const result = await runners.publishFromApple({
      client,
      image: { version: params.version, build: params.build, url: params.url, ...(params.sha1 ? { sha1: params.sha1 } : {}), devices: [] },
      repository: `${registry.host}/${params.repository}`,
      tags: params.tags,
      immutableTags: registry.immutableTags,
      onProgress: report,
      signal,
    });
    return {
      result: { digest: result.digest, references: result.references, registryId: registry.id, repository: params.repository, tag: params.tags[0] ?? null },
      bytes: result.size,
    };
  } finally {
    await client.close();
  }
}

async function exportBundle(deps: ServiceDeps, params: BundleExportParams, report: (p: TaskProgress) => void, signal: AbortSignal) {
  const config = taskConfigOf(deps);
  // Checked again: the directory or the setting may have changed since the task was queued.
  const path = await checkBundlePath(config.bundleDir, params.path);
  const registries = await deps.db.registry.findMany({ where: { id: { in: params.registryIds } } });
  if (registries.length !== params.registryIds.length) throw new AppError('NOT_FOUND', 'A registry the project pins from was removed; start the export again.');
  const client = clientForRegistries(deps, registries);
  try {
    report({ bytesDone: 0, bytesTotal: null, message: 'Planning the bundle' });
    const plan = await config.runners.exportBundle({
      client,
      references: params.references,
      path,
      signal,
      onProgress: (p: BundleProgress) => report({ bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, message: p.digest ? `Writing ${p.digest.slice(0, 19)}…` : 'Writing' }),
    });
    return { result: { path, bytes: plan.tarBytes, images: plan.images.length }, bytes: plan.tarBytes };
  } finally {
    await client.close();
  }
}
