'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { formatLabels } from '../../lib/format.ts';
import { progressKey, useLiveProgress } from '../../live/progress.ts';
import { usePagedSearch } from '../../lib/use-debounced.ts';
import { useTRPC } from '../../trpc/react.ts';
import { OrderSelect } from '../ui/order-select.tsx';
import { Pager } from '../ui/pager.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { Token } from '../ui/token.tsx';
import { RolloutCell } from './rollout-cell.tsx';

// Events drive updates; this slow refresh only catches presence going stale (a node that stops
// talking sends no event).
const refreshMs = 30_000;
/** The orders the rollout offers, as the server sorts them. */
const orders = {
  name: { label: 'Node name, A to Z', query: { sort: 'name', direction: 'asc' } },
  'name-desc': { label: 'Node name, Z to A', query: { sort: 'name', direction: 'desc' } },
  sync: { label: 'Not in sync first', query: { sort: 'sync', direction: 'asc' } },
} as const;

const pageSize = 50;

/** The nodes serving a project, a page at a time, searchable by name, optionally only those not in sync. */
export function RolloutTable({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const id = useId();
  const { typed, setTyped, search, offset, setOffset } = usePagedSearch();
  const [onlyNotInSync, setOnlyNotInSync] = useState(false);
  const [order, setOrder] = useState<keyof typeof orders>('name');
  const rollout = useQuery(
    trpc.projects.rollout.queryOptions({ projectId, search: search || undefined, onlyNotInSync, ...orders[order].query, offset, limit: pageSize }, { refetchInterval: refreshMs, placeholderData: keepPreviousData }),
  );
  const live = useLiveProgress();

  if (!rollout.data) return <QueryState isPending={rollout.isPending} error={rollout.error} what="the rollout" />;
  const { rows, serving, notInSync, total } = rollout.data;
  if (serving === 0) return <p className="muted">No enrolled node matches this project&apos;s node selector yet.</p>;
  const pins = rows[0]?.cells ?? [];
  return (
    <>
      <p className="muted small" data-rollout-summary>
        {notInSync === 0 ? `All ${serving} nodes in sync.` : `${serving - notInSync} of ${serving} nodes in sync; ${notInSync} not yet.`}
      </p>
      <div className="list-toolbar" role="search" aria-label="Filter the rollout">
        <label className="field" htmlFor={`${id}-search`}>
          <span className="field-label">Node name</span>
          <input id={`${id}-search`} type="search" maxLength={100} placeholder="mac-01" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <label className="check-inline">
          <input
            type="checkbox"
            checked={onlyNotInSync}
            onChange={(e) => {
              setOnlyNotInSync(e.target.checked);
              setOffset(0);
            }}
          />
          Only not in sync
        </label>
        <OrderSelect
          id={`${id}-order`}
          orders={orders}
          value={order}
          onChange={(next) => {
            setOrder(next);
            setOffset(0);
          }}
        />
      </div>
      {rows.length === 0 ? (
        <p className="muted">{onlyNotInSync ? 'Every node that matches is in sync.' : 'No node of this project matches that name.'}</p>
      ) : (
        <div className="table-scroll">
          <table className="table rollout" aria-label="Rollout by node">
            <thead>
              <tr>
                <th scope="col">Node</th>
                {pins.map((cell) => (
                  <th scope="col" key={cell.pinId} className="token-cell">
                    <Token value={cell.reference} kind="reference" copy={false} />
                  </th>
                ))}
                {pins.length === 0 ? <th scope="col">Images</th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.nodeId} data-node={row.nodeName} data-in-sync={row.inSync}>
                  <th scope="row">
                    <div className="strong">
                      <Token value={row.nodeName} kind="name" href={`/nodes/${row.nodeId}`} />
                    </div>
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
        </div>
      )}
      <Pager offset={rollout.data.offset} limit={pageSize} total={total} what={onlyNotInSync ? 'nodes not in sync' : 'nodes'} onOffset={setOffset} />
    </>
  );
}
