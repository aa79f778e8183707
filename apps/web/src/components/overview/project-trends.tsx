'use client';
// A project's trends, below its rollout: how its convergence went over two weeks and how long its
// latest rollouts took (pin → every node holding the image). Refreshed with the rest of the page.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import { ConvergenceChart, RolloutDurations } from './trend-charts.tsx';

export function ProjectTrends({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.trends.project.queryOptions({ projectId }, { refetchInterval: 60_000 }));
  const [now] = useState(() => Date.now());
  const data = query.data;
  return (
    <section className="card" aria-labelledby="trends-title">
      <h2 id="trends-title">Trends</h2>
      <QueryState isPending={query.isPending} error={query.error} what="the trends" />
      {data ? (
        <div className="trends-grid">
          <div>
            <h3>Convergence (up to {data.days} days)</h3>
            <ConvergenceChart points={data.convergence} days={data.days} now={Math.max(now, query.dataUpdatedAt)} />
          </div>
          <div>
            <h3>Latest rollouts</h3>
            <RolloutDurations rollouts={data.rollouts} showProject={false} />
          </div>
        </div>
      ) : null}
    </section>
  );
}
