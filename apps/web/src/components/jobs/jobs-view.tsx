'use client';
import { useInfiniteQuery } from '@tanstack/react-query';
import { usePathname, useRouter } from 'next/navigation';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import type { JobFilterValues } from './job-filter-values.ts';
import { JobFilters } from './job-filters.tsx';
import { JobTable } from './job-table.tsx';

const pageSize = 50;

function searchOf(filters: JobFilterValues): string {
  const params = new URLSearchParams();
  if (filters.state) params.set('state', filters.state);
  if (filters.nodeId) params.set('node', filters.nodeId);
  if (filters.digest) params.set('digest', filters.digest);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Every sync job, newest first, filtered in the URL so a view can be shared. Live: events refetch, progress moves bars. */
export function JobsView({ initial }: { initial: JobFilterValues }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const [filters, setFilters] = useState<JobFilterValues>(initial);
  const jobs = useInfiniteQuery(
    trpc.jobs.list.infiniteQueryOptions({ ...filters, limit: pageSize }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );

  function change(next: JobFilterValues) {
    setFilters(next);
    router.replace(`${pathname}${searchOf(next)}`, { scroll: false });
  }

  const items = jobs.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader title="Jobs" description="Sync jobs: one per node and image to fetch, newest first, with live progress." />
      <section className="card">
        <JobFilters value={filters} onChange={change} />
        {jobs.error ? (
          <ErrorAlert error={jobs.error} />
        ) : jobs.isPending ? (
          <p className="muted">Loading sync jobs…</p>
        ) : items.length === 0 ? (
          <p className="muted">{filters.state || filters.nodeId || filters.digest ? 'No sync job matches these filters.' : 'No sync jobs yet. Pin an image in a project and its nodes get one each.'}</p>
        ) : (
          <>
            <JobTable jobs={items} />
            <div className="table-footer">
              <span className="muted small">
                {items.length} job{items.length === 1 ? '' : 's'} shown
              </span>
              {jobs.hasNextPage ? (
                <button type="button" className="button" disabled={jobs.isFetchingNextPage} onClick={() => void jobs.fetchNextPage()}>
                  {jobs.isFetchingNextPage ? 'Loading…' : 'Load older jobs'}
                </button>
              ) : null}
            </div>
          </>
        )}
      </section>
    </>
  );
}
