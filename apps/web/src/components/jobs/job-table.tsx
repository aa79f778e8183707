'use client';
import { useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import { progressKey, useLiveProgress } from '../../live/progress.ts';
import { formatDateTime, formatDuration } from '../images/format.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { Token } from '../ui/token.tsx';
import { JobActions, type JobActionResult } from './job-actions.tsx';
import { JobSources } from './job-sources.tsx';
import { JobProgress, JobStateBadge, unfinished, type Job } from './job-state.tsx';

function When({ date }: { date: Date | null }) {
  if (!date) return <span className="muted">—</span>;
  return <time dateTime={date.toISOString()} title={formatDateTime(date)}>{timeAgo(date)}</time>;
}

/** Sync jobs with live progress; the node column is left out on a node's own page. */
export function JobTable({ jobs, showNode = true }: { jobs: Job[]; showNode?: boolean }) {
  const live = useLiveProgress();
  const isAdmin = useIsAdmin();
  const [result, setResult] = useState<JobActionResult>();
  return (
    <>
      {result ? (
        <p className={result.kind === 'ok' ? 'alert alert-ok' : 'alert alert-error'} role={result.kind === 'ok' ? 'status' : 'alert'}>
          {result.message}
        </p>
      ) : null}
      <div className="table-scroll">
        <table className="table jobs-table">
          <thead>
            <tr>
              {showNode ? <th scope="col">Node</th> : null}
              <th scope="col">Image</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Created</th>
              <th scope="col">Started</th>
              <th scope="col">Finished</th>
              <th scope="col" className="num">
                Duration
              </th>
              {isAdmin ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => {
              const progress = live.get(progressKey(job.node.id, job.digest));
              const mine = progress && unfinished.has(job.state) && progress.syncJobId === job.id ? progress : undefined;
              return (
                <tr key={job.id} data-job={job.id} data-node={job.node.name} data-state={job.state} data-digest={job.digest}>
                  {showNode ? (
                    <td className="strong token-cell">
                      <Token value={job.node.name} kind="name" href={`/nodes/${job.node.id}`} />
                    </td>
                  ) : null}
                  <td className="token-cell">
                    <Token value={job.reference} kind="reference" />
                    <div className="small">
                      <Token value={job.digest} kind="digest" />
                    </div>
                  </td>
                  <td>
                    <JobStateBadge state={job.state} />
                    {job.error ? <div className={job.state === 'failed' ? 'small text-error' : 'small muted'}>{job.error}</div> : null}
                  </td>
                  <td>
                    <JobProgress job={job} live={mine} />
                    <JobSources sources={job.sources} />
                  </td>
                  <td className="num">{job.attempts}</td>
                  <td className="nowrap">
                    <When date={job.createdAt} />
                  </td>
                  <td className="nowrap">
                    <When date={job.startedAt} />
                  </td>
                  <td className="nowrap">
                    <When date={job.finishedAt} />
                  </td>
                  <td className="num">{formatDuration(job.durationMs)}</td>
                  {isAdmin ? (
                    <td className="actions">
                      <JobActions job={job} onResult={setResult} />
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
