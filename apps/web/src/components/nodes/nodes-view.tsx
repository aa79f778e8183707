'use client';
// The nodes list, paged on the server: a fleet of a thousand Macs shows 50 at a time, searched,
// filtered and sorted there. The view lives in the URL, so it can be linked and survives a reload.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useState } from 'react';
import { formatBytes, formatLabels, timeAgo } from '../../lib/format.ts';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { DataTable, type Column, type TableSort } from '../ui/data-table.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { Pager } from '../ui/pager.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { NodeConditionBadges } from './node-condition-badges.tsx';
import { NodeFilters } from './node-filters.tsx';
import { isFiltered, searchOf, sortKeys, type NodeListView } from './node-filter-values.ts';
import { NodeSyncCell } from './node-sync.tsx';

// A node that stops talking sends no event; the slow refresh turns it offline on screen.
const refreshMs = 30_000;
const pageSize = 50;

type NodeRow = RouterOutputs['nodes']['page']['rows'][number];

const columns: Column<NodeRow>[] = [
  {
    header: 'Name',
    kind: 'strong',
    sortKey: 'name',
    cell: (node) => (
      <>
        <Link href={`/nodes/${node.id}`}>{node.name}</Link>
        <div className="muted small">{[node.os ? `${node.os} · ${node.architecture ?? '?'}` : 'OS not reported yet', node.agentVersion ? `agent ${node.agentVersion}` : null].filter(Boolean).join(' · ')}</div>
      </>
    ),
  },
  {
    header: 'Status',
    sortKey: 'state',
    cell: (node) => (
      <>
        {node.decommissionedAt ? <span className="badge">decommissioned</span> : <StatusBadge value={node.status} />}
        <NodeConditionBadges conditions={node.conditions} />
      </>
    ),
  },
  { header: 'Sync', cell: (node) => <NodeSyncCell sync={node.sync} /> },
  {
    header: 'Labels',
    // One unbreakable chip per label: lines break between labels, never inside one.
    cell: (node) =>
      Object.keys(node.labels).length ? (
        <span className="label-chips">
          {Object.entries(node.labels).map(([key, value]) => (
            <code key={key}>{formatLabels({ [key]: value })}</code>
          ))}
        </span>
      ) : (
        <span className="muted">none</span>
      ),
  },
  { header: 'Last seen', sortKey: 'lastSeen', cell: (node) => timeAgo(node.lastSeenAt), title: (node) => node.lastSeenAt?.toISOString() },
  { header: 'Disk free', kind: 'num', sortKey: 'diskFree', cell: (node) => formatBytes(node.diskFreeBytes), title: (node) => (node.diskFreeBytes === null ? undefined : `${node.diskFreeBytes} bytes`) },
  { header: 'Cache', kind: 'num', sortKey: 'cache', cell: (node) => formatBytes(node.cacheBytes), title: (node) => `${node.cacheBytes} bytes in ${node.images} images` },
  { header: 'Images', kind: 'num', cell: (node) => node.images },
];

export function NodesView({ initial }: { initial: NodeListView }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const [view, setView] = useState<NodeListView>(initial);
  const nodes = useQuery(
    trpc.nodes.page.queryOptions({ ...view, pageSize }, { refetchInterval: refreshMs, placeholderData: keepPreviousData }),
  );

  function change(next: NodeListView) {
    setView(next);
    router.replace(`${pathname}${searchOf(next)}`, { scroll: false });
  }

  function sortBy(sort: TableSort) {
    const key = sortKeys.find((k) => k === sort.key);
    if (key) change({ ...view, sort: key, direction: sort.direction, page: 1 });
  }

  const data = nodes.data;
  return (
    <>
      <PageHeader title="Nodes" description="Macs running the agent, with what their caches hold." />
      <section className="card">
        <NodeFilters value={view} onChange={change} />
        {!data ? (
          <QueryState isPending={nodes.isPending} error={nodes.error} what="nodes" />
        ) : data.total === 0 ? (
          <p className="muted">{isFiltered(view) ? 'No node matches these filters.' : 'No node has enrolled yet. Install the agent on a Mac and enroll it with a token.'}</p>
        ) : (
          <>
            <div className="table-scroll nodes-list">
              <DataTable
                label="Nodes"
                rows={data.rows}
                columns={columns}
                rowKey={(node) => node.id}
                rowAttributes={(node) => ({ 'data-node': node.name, 'data-sync': node.sync.state })}
                sort={{ key: view.sort, direction: view.direction }}
                onSortChange={sortBy}
              />
            </div>
            <Pager offset={(data.page - 1) * data.pageSize} limit={data.pageSize} total={data.total} what={data.total === 1 ? 'node' : 'nodes'} onOffset={(offset) => change({ ...view, page: Math.floor(offset / data.pageSize) + 1 })} />
          </>
        )}
      </section>
    </>
  );
}
