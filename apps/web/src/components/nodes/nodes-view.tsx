'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { formatBytes, formatLabels, timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { NodeConditionBadges } from './node-condition-badges.tsx';

// A node that stops talking sends no event; the slow refresh turns it offline on screen.
const refreshMs = 30_000;

export function NodesView() {
  const trpc = useTRPC();
  // Revoked and decommissioned nodes leave the fleet; this shows them instead.
  const [retired, setRetired] = useState(false);
  const nodes = useQuery(trpc.nodes.list.queryOptions({ retired }, { refetchInterval: refreshMs }));
  return (
    <>
      <PageHeader title="Nodes" description="Macs running the agent, with what their caches hold." />
      <section className="card">
        <label className="checkbox retired-toggle">
          <input type="checkbox" checked={retired} onChange={(e) => setRetired(e.target.checked)} />
          Show decommissioned and revoked nodes instead
        </label>
        {!nodes.data ? (
          <QueryState isPending={nodes.isPending} error={nodes.error} what="nodes" />
        ) : nodes.data.length === 0 ? (
          <p className="muted">{retired ? 'No node was decommissioned or revoked.' : 'No node has enrolled yet. Install the agent on a Mac and enroll it with a token.'}</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Labels</th>
                <th scope="col">OS / arch</th>
                <th scope="col" className="num">Disk free</th>
                <th scope="col" className="num">Cache</th>
                <th scope="col" className="num">Images</th>
                <th scope="col" className="num">Active jobs</th>
              </tr>
            </thead>
            <tbody>
              {nodes.data.map((node) => (
                <tr key={node.id} data-node={node.name}>
                  <td>
                    <div className="strong">
                      <Link href={`/nodes/${node.id}`}>{node.name}</Link>
                    </div>
                    <div className="muted small">
                      seen {timeAgo(node.lastSeenAt)}
                      {node.agentVersion ? ` · agent ${node.agentVersion}` : ''}
                    </div>
                  </td>
                  <td>
                    {node.decommissionedAt ? <span className="badge">decommissioned</span> : <StatusBadge value={node.status} />}
                    <NodeConditionBadges conditions={node.conditions} />
                  </td>
                  <td>{Object.keys(node.labels).length ? <code>{formatLabels(node.labels)}</code> : <span className="muted">none</span>}</td>
                  <td>{node.os ? `${node.os} / ${node.architecture ?? '?'}` : <span className="muted">unknown</span>}</td>
                  <td className="num">{formatBytes(node.diskFreeBytes)}</td>
                  <td className="num">{formatBytes(node.cacheBytes)}</td>
                  <td className="num">{node.images}</td>
                  <td className="num">{node.activeJobs}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
