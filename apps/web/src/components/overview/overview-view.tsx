'use client';
// The overview leads with what an admin asks first: how rollouts are going, which nodes need a
// look, then disk and cache, then trends. A new fleet gets its first steps on top. Every figure
// is an aggregate from the server (a few kilobytes at 1,000 nodes).
import { useQuery } from '@tanstack/react-query';
import { percent } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { AttentionList } from './attention-list.tsx';
import { CacheChart } from './cache-chart.tsx';
import { FirstRunChecklist } from './first-run-checklist.tsx';
import { RolloutsInFlight } from './rollouts-in-flight.tsx';
import { StatCard } from './stat-card.tsx';
import { BytesPerDayChart, RolloutDurations } from './trend-charts.tsx';

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
          <FirstRunChecklist checklist={data.checklist} />
          <section className="stats" aria-label="Fleet health">
            <StatCard label="Nodes online" value={`${data.online} / ${data.nodes}`} tone={data.online < data.nodes ? 'warn' : 'ok'} />
            {data.pinnedNodes === 0 ? (
              <StatCard label="Nodes in sync" value="—" detail={data.projects === 0 ? 'No projects yet' : 'Nothing pinned yet'} />
            ) : (
              <StatCard
                label="Nodes in sync"
                value={`${percent(data.inSync, data.pinnedNodes)}%`}
                detail={`${data.inSync} of ${data.pinnedNodes} nodes with pins hold every pinned image`}
                tone={data.inSync < data.pinnedNodes ? 'warn' : 'ok'}
              />
            )}
            <StatCard label="Sync jobs in flight" value={String(data.jobsInFlight)} />
            <StatCard label="Projects" value={String(data.projects)} />
          </section>
          <RolloutsInFlight rollouts={data.rollouts} jobsInFlight={data.jobsInFlight} pinned={data.pinnedNodes > 0} />
          <AttentionList attention={data.attention} />
          <section className="card" aria-labelledby="disk-title">
            <h2 id="disk-title">Disk and cache</h2>
            <CacheChart data={data} />
          </section>
          <section className="card" aria-labelledby="overview-trends-title">
            <h2 id="overview-trends-title">Trends</h2>
            <div className="trends-grid">
              <div>
                <h3>Bytes synced per day</h3>
                <BytesPerDayChart days={data.bytesPerDay} />
              </div>
              <div>
                <h3>Latest rollouts</h3>
                <RolloutDurations rollouts={data.recentRollouts} showProject />
              </div>
            </div>
          </section>
        </>
      ) : null}
    </>
  );
}
