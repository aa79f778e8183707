'use client';
import { formatBytes, percent } from '../../lib/format.ts';
import { phaseWords } from '../../lib/words.ts';
import type { LiveProgress } from '../../live/progress.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { Token } from '../ui/token.tsx';

type Cell = RouterOutputs['projects']['rollout']['rows'][number]['cells'][number];

/** Where one pinned image stands on one node: held, moving (with a live bar), waiting, or failed. */
export function RolloutCell({ cell, nodeName, live }: { cell: Cell; nodeName: string; live: LiveProgress | undefined }) {
  if (cell.status === 'in-sync') {
    return (
      <span className="cell cell-ok nowrap" data-digest={cell.digest}>
        <span aria-hidden="true">✓</span> In sync <Token value={cell.digest} kind="digest" copy={false} />
      </span>
    );
  }
  if (cell.status === 'failed') {
    return (
      <span className="cell cell-error" data-digest={cell.digest}>
        Failed{cell.error ? `: ${cell.error}` : ''}
      </span>
    );
  }
  if (cell.status === 'waiting-offline') {
    return (
      <span className="cell cell-muted" data-digest={cell.digest}>
        Waiting for the node to come online
      </span>
    );
  }
  // Live reports are newer than the stored row (stored at most every couple of seconds).
  const done = live?.bytesDone ?? cell.bytesDone;
  const total = live?.bytesTotal ?? cell.bytesTotal ?? 0;
  if (cell.status === 'queued' && !live) {
    return (
      <span className="cell cell-muted" data-digest={cell.digest}>
        Queued
      </span>
    );
  }
  const value = total > 0 ? Math.min(100, percent(done, total)) : undefined;
  return (
    <div className="cell" data-digest={cell.digest}>
      <div
        className="progress"
        role="progressbar"
        aria-label={`Syncing ${cell.reference} on ${nodeName}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
      >
        <div className={value === undefined ? 'progress-bar progress-indeterminate' : 'progress-bar'} style={value === undefined ? undefined : { width: `${value}%` }} />
      </div>
      <div className="small muted">
        {live?.phase ? `${phaseWords(live.phase)} · ` : 'Syncing · '}
        {total > 0 ? `${formatBytes(done)} of ${formatBytes(total)} (${value}%)` : formatBytes(done)}
      </div>
    </div>
  );
}
