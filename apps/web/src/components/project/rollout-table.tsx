'use client';
import { useQuery } from '@tanstack/react-query';
import { formatLabels } from '../../lib/format.ts';
import { progressKey, useLiveProgress } from '../../live/progress.ts';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { RolloutCell } from './rollout-cell.tsx';

// Events drive updates; this slow refresh only catches presence going stale (a node that stops
// talking sends no event).
const refreshMs = 30_000;

export function RolloutTable({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const rollout = useQuery(trpc.projects.rollout.queryOptions({ projectId }, { refetchInterval: refreshMs }));
  const live = useLiveProgress();

  if (!rollout.data) return <QueryState isPending={rollout.isPending} error={rollout.error} what="the rollout" />;
  const rows = rollout.data.rows;
  if (rows.length === 0) return <p className="muted">No enrolled node matches this project&apos;s node selector yet.</p>;
  const pins = rows[0]?.cells ?? [];
  return (
    <table className="table rollout">
      <thead>
        <tr>
          <th scope="col">Node</th>
          {pins.map((cell) => (
            <th scope="col" key={cell.pinId}>
              <code>{cell.reference}</code>
            </th>
          ))}
          {pins.length === 0 ? <th scope="col">Images</th> : null}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.nodeId} data-node={row.nodeName} data-in-sync={row.inSync}>
            <th scope="row">
              <div className="strong">{row.nodeName}</div>
              <StatusBadge value={row.nodeStatus} />
              {Object.keys(row.labels).length > 0 ? <div className="muted small">{formatLabels(row.labels)}</div> : null}
            </th>
            {row.cells.map((cell) => (
              <td key={cell.pinId}>
                <RolloutCell cell={cell} nodeName={row.nodeName} live={live.get(progressKey(row.nodeId, cell.digest))} />
              </td>
            ))}
            {pins.length === 0 ? <td className="muted">Nothing pinned</td> : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
