'use client';
import { formatBytes, percent } from '../../lib/format.ts';
import { jobStateWords, phaseWords } from '../../lib/words.ts';
import type { LiveProgress } from '../../live/progress.ts';
import type { RouterOutputs } from '../../trpc/react.ts';

export type Job = RouterOutputs['jobs']['list']['items'][number];

const tones: Record<string, string> = {
  queued: 'badge-muted',
  dispatched: 'badge-info',
  pulling: 'badge-info',
  cancelling: 'badge-warn',
  done: 'badge-ok',
  failed: 'badge-error',
  cancelled: 'badge-muted',
};

/** States a job can still leave (the server's openStates). */
export const unfinished = new Set(['queued', 'dispatched', 'pulling', 'cancelling']);

/** `cancelling`: the node's agent was told to stop and has not confirmed yet (it may be away). */
export function JobStateBadge({ state }: { state: string }) {
  return (
    <span className={`badge ${tones[state] ?? 'badge-muted'}`} title={state === 'cancelling' ? 'Waiting for the node to confirm it stopped; an offline node confirms when it reconnects.' : undefined}>
      {jobStateWords(state)}
    </span>
  );
}

/**
 * Bytes for a job: a live bar while it moves (live reports are newer than the stored row, which
 * is written every couple of seconds), the stored figures once it has ended.
 */
export function JobProgress({ job, live }: { job: Job; live: LiveProgress | undefined }) {
  const moving = unfinished.has(job.state) && job.state !== 'cancelling' && (job.state === 'pulling' || live !== undefined);
  const done = live?.bytesDone ?? job.bytesDone;
  const total = live?.bytesTotal ?? job.bytesTotal ?? 0;
  if (!moving) {
    if (!job.bytesTotal && job.bytesDone === 0) return <span className="muted">—</span>;
    return <span className="tabular">{job.bytesTotal !== null && job.bytesDone !== job.bytesTotal ? `${formatBytes(job.bytesDone)} of ${formatBytes(job.bytesTotal)}` : formatBytes(job.bytesTotal ?? job.bytesDone)}</span>;
  }
  const value = total > 0 ? Math.min(100, percent(done, total)) : undefined;
  return (
    <div className="job-progress">
      <div className="progress" role="progressbar" aria-label={`Pulling ${job.reference} on ${job.node.name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={value}>
        <div className={value === undefined ? 'progress-bar progress-indeterminate' : 'progress-bar'} style={value === undefined ? undefined : { width: `${value}%` }} />
      </div>
      <div className="small muted">
        {live?.phase ? `${phaseWords(live.phase)} · ` : ''}
        {total > 0 ? `${formatBytes(done)} of ${formatBytes(total)} (${value}%)` : formatBytes(done)}
      </div>
    </div>
  );
}
