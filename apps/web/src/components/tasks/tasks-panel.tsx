'use client';
// Server tasks (Publish from Apple, bundle exports), newest first, a page at a time from the
// server: each with its state, a live bar while it runs (task.progress events), its error, and
// what it made (the image it published links to its page). Admins only.
import type { TaskView } from '@cider/api/services';
import { useMutation, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useId, useState } from 'react';
import { formatBytes, percent, timeAgo } from '../../lib/format.ts';
import { useLiveTaskProgress, type LiveTaskProgress } from '../../live/task-progress.ts';
import { useTRPC } from '../../trpc/react.ts';
import { digestHref } from '../images/image-paths.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';

const stateTones: Record<TaskView['state'], string> = { queued: 'badge-muted', running: 'badge-info', succeeded: 'badge-ok', failed: 'badge-error', cancelled: 'badge-muted' };

function TaskBar({ task, live }: { task: TaskView; live: LiveTaskProgress | undefined }) {
  const done = live?.bytesDone ?? task.bytesDone;
  const total = live?.bytesTotal ?? task.bytesTotal ?? 0;
  const message = live ? live.message : task.message;
  if (task.state !== 'running') {
    return task.state === 'succeeded' && task.bytesTotal ? <span className="tabular small">{formatBytes(task.bytesTotal)}</span> : <span className="muted small">{task.message ?? '—'}</span>;
  }
  const value = total > 0 ? Math.min(100, percent(done, total)) : undefined;
  return (
    <div className="job-progress">
      <div className="progress" role="progressbar" aria-label={`Progress of ${task.title}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={value}>
        <div className={value === undefined ? 'progress-bar progress-indeterminate' : 'progress-bar'} style={value === undefined ? undefined : { width: `${value}%` }} />
      </div>
      <div className="small muted">
        {message ? `${message} · ` : ''}
        {total > 0 ? `${formatBytes(done)} of ${formatBytes(total)} (${value}%)` : formatBytes(done)}
      </div>
    </div>
  );
}

function TaskOutcome({ task }: { task: TaskView }) {
  if (task.error) return <span className="cell-error small">{task.error}</span>;
  const result = task.result;
  if (!result) return null;
  if (result.digest && result.registryId && result.repository) {
    return (
      <span className="small">
        <Link href={digestHref(result.registryId, result.repository, result.digest)}>{result.references?.[0] ?? result.digest}</Link>
      </span>
    );
  }
  if (result.path) return <code className="small">{result.path}</code>;
  return null;
}

export function TasksPanel({ kind, projectId, title = 'Server tasks' }: { kind?: TaskView['kind']; projectId?: string; title?: string }) {
  const trpc = useTRPC();
  const id = useId();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors.at(-1) ?? null;
  const tasks = useQuery(trpc.tasks.list.queryOptions({ kind, projectId, cursor, limit: 10 }));
  const live = useLiveTaskProgress();
  const cancel = useMutation(trpc.tasks.cancel.mutationOptions({ onSuccess: () => void tasks.refetch() }));
  return (
    <section className="card" aria-labelledby={`${id}-tasks`} data-testid="tasks-panel">
      <h2 id={`${id}-tasks`}>{title}</h2>
      <ErrorAlert error={cancel.error} />
      {!tasks.data ? (
        <QueryState isPending={tasks.isPending} error={tasks.error} what="tasks" />
      ) : tasks.data.items.length === 0 && cursors.length === 1 ? (
        <p className="muted">No task yet.</p>
      ) : (
        <>
          <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Outcome</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tasks.data.items.map((task) => (
                <tr key={task.id} data-task={task.id} data-state={task.state}>
                  <td>
                    <div className="strong">{task.title}</div>
                    <div className="small muted">
                      {task.createdBy ?? 'someone'} · {timeAgo(task.createdAt)}
                    </div>
                  </td>
                  <td>
                    <span className={`badge ${stateTones[task.state]}`}>{task.cancelRequested && task.state === 'running' ? 'cancelling' : task.state}</span>
                  </td>
                  <td>
                    <TaskBar task={task} live={live.get(task.id)} />
                  </td>
                  <td>
                    <TaskOutcome task={task} />
                  </td>
                  <td>
                    {task.state === 'queued' || (task.state === 'running' && !task.cancelRequested) ? (
                      <button type="button" className="button button-small" disabled={cancel.isPending} onClick={() => cancel.mutate({ taskId: task.id })}>
                        Cancel
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <nav className="pager" aria-label="Pages of tasks">
            <span className="pager-buttons">
              <button type="button" className="button button-small" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
                Newer tasks
              </button>
              <button type="button" className="button button-small" disabled={!tasks.data.nextCursor} onClick={() => tasks.data?.nextCursor && setCursors([...cursors, tasks.data.nextCursor])}>
                Older tasks
              </button>
            </span>
          </nav>
        </>
      )}
    </section>
  );
}
