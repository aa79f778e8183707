// An agent says hello again: what it still works on (`activeJobs`) and what it holds (`images`)
// are reconciled against the open sync jobs of its node. Held digests are done; jobs it still runs
// are not dispatched again; jobs it lost (it restarted) are dispatched again without spending an
// attempt; and it is told to drop whatever it runs that was cancelled, finished or never ours.
import type { ServiceDeps } from '../deps.ts';
import { openStates } from './lifecycle.ts';
import { applySyncEvent } from './transitions.ts';

export interface ReconnectSummary {
  /** Job ids the agent must stop (the welcome's `drop`). */
  drop: string[];
  /** Open jobs it still runs, left to it. */
  adopted: number;
  /** Open jobs it no longer has, to be dispatched again. */
  requeued: number;
  /** Open jobs whose digest it now holds. */
  done: number;
}

export async function reconcileReconnectedNode(deps: ServiceDeps, nodeId: string, hello: { activeJobs: string[]; images: { digest: string }[] }): Promise<ReconnectSummary> {
  const running = new Set(hello.activeJobs);
  const held = new Set(hello.images.map((i) => i.digest));
  const open = await deps.db.syncJob.findMany({ where: { nodeId, state: { in: [...openStates] } } });
  const summary: ReconnectSummary = { drop: [], adopted: 0, requeued: 0, done: 0 };
  for (const job of open) {
    // The agent's sync.done was lost with its connection; its inventory says it holds the digest.
    const result = held.has(job.digest)
      ? await applySyncEvent(deps, job, { type: 'done' })
      : await applySyncEvent(deps, job, { type: 'reconnected', running: running.has(job.id) });
    const state = result.job?.state;
    if (running.has(job.id)) {
      // Left running only while the job stays open and wanted; a cancel (or any end that raced this) stops it.
      if (state === 'pulling') summary.adopted++;
      else summary.drop.push(job.id);
    }
    if (!result.applied) continue;
    if (state === 'done') summary.done++;
    else if (state === 'queued' && result.from !== 'queued') summary.requeued++;
  }
  // Anything else it runs is not an open job of this node: cancelled or finished while it was away, or unknown.
  const openIds = new Set(open.map((j) => j.id));
  for (const jobId of running) if (!openIds.has(jobId)) summary.drop.push(jobId);
  return summary;
}
