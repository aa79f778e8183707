'use client';
import { useQuery } from '@tanstack/react-query';
import { percent } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { FleetConditions } from '../nodes/fleet-conditions.tsx';
import { CacheChart } from './cache-chart.tsx';
import { StatCard } from './stat-card.tsx';

// Presence goes stale without any event (a silent node), so the overview also refreshes slowly.
const refreshMs = 30_000;

export function OverviewView() {
  const trpc = useTRPC();
  const overview = useQuery(trpc.fleet.overview.queryOptions(undefined, { refetchInterval: refreshMs }));
  const data = overview.data;
  return (
    <>
      <PageHeader title="Overview" description="How the fleet stands against what projects have pinned." />
      <QueryState isPending={overview.isPending} error={overview.error} what="the fleet" />
      {data ? (
        <>
          <section className="stats" aria-label="Fleet health">
            <StatCard label="Nodes online" value={`${data.online} / ${data.nodes}`} tone={data.online < data.nodes ? 'warn' : 'ok'} />
            <StatCard
              label="Nodes in sync"
              value={`${percent(data.inSync, data.nodes)}%`}
              detail={`${data.inSync} of ${data.nodes} hold every pinned image`}
              tone={data.inSync < data.nodes ? 'warn' : 'ok'}
            />
            <StatCard label="Sync jobs in flight" value={String(data.jobsInFlight)} />
            <StatCard label="Projects" value={String(data.projects)} />
          </section>
          <FleetConditions conditions={data.conditions} />
          <section className="card">
            <h2>Cache use per node</h2>
            <CacheChart nodes={data.cacheUse} />
          </section>
        </>
      ) : null}
    </>
  );
}
