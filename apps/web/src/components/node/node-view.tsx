'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../../trpc/react.ts';
import { JobTable } from '../jobs/job-table.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { ClearConditions } from './clear-conditions.tsx';
import { NodeActions } from './node-actions.tsx';
import { NodeConditions } from './node-conditions.tsx';
import { NodeFacts } from './node-facts.tsx';
import { NodeImages } from './node-images.tsx';
import { NodeProjects } from './node-projects.tsx';

// Events refresh it; this slow refresh only catches presence going stale (a silent node sends no event).
const refreshMs = 30_000;

export function NodeView({ nodeId }: { nodeId: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.nodes.get.queryOptions({ nodeId }, { refetchInterval: refreshMs }));
  const node = query.data;
  const code = query.error?.data?.code;
  if (code === 'NOT_FOUND' || code === 'BAD_REQUEST') {
    return (
      <>
        <PageHeader title="No such node" />
        <p>
          It may have been removed. <Link href="/nodes">Back to nodes</Link>
        </p>
      </>
    );
  }
  if (!node) return <QueryState isPending={query.isPending} error={query.error} what="the node" />;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <ol>
          <li>
            <Link href="/nodes">Nodes</Link>
          </li>
          <li>
            <span aria-current="page">{node.name}</span>
          </li>
        </ol>
      </nav>
      <PageHeader
        title={node.name}
        description={
          <>
            <StatusBadge value={node.status} /> {node.facts ? <span className="muted">{node.facts.hostname}</span> : null}
          </>
        }
      />
      <NodeConditions conditions={node.conditions} />
      <ClearConditions nodeId={node.id} nodeName={node.name} raised={node.conditions.some((c) => c.type === 'bad-peer-data')} />
      <section className="card" aria-labelledby="node-facts-title">
        <h2 id="node-facts-title">Host</h2>
        <NodeFacts node={node} />
      </section>
      <NodeActions node={node} />
      <section className="card" aria-labelledby="node-images-title">
        <h2 id="node-images-title">Images in the cache</h2>
        <NodeImages node={node} />
      </section>
      <section className="card" aria-labelledby="node-projects-title">
        <h2 id="node-projects-title">Projects served</h2>
        <NodeProjects projects={node.projects} />
      </section>
      <section className="card" aria-labelledby="node-jobs-title">
        <div className="card-header">
          <h2 id="node-jobs-title">Sync jobs</h2>
          <Link href={`/jobs?node=${node.id}`}>All jobs of this node</Link>
        </div>
        {node.jobs.length === 0 ? <p className="muted">No sync jobs yet.</p> : <JobTable jobs={node.jobs} showNode={false} />}
      </section>
    </>
  );
}
