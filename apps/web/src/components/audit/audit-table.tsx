'use client';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import type { AuditFilterValues } from './audit-filters.tsx';
import { AuditRow } from './audit-row.tsx';

const pageSize = 50;

/** Newest first, a page at a time; live events refetch the loaded pages. */
export function AuditTable({ filters }: { filters: AuditFilterValues }) {
  const trpc = useTRPC();
  const events = useInfiniteQuery(trpc.audit.list.infiniteQueryOptions({ ...filters, limit: pageSize }, { getNextPageParam: (page) => page.nextCursor }));

  if (!events.data) return <QueryState isPending={events.isPending} error={events.error} what="the audit log" />;
  const rows = events.data.pages.flatMap((p) => p.events);
  if (rows.length === 0) return <p className="muted">No audit events match these filters.</p>;
  return (
    <>
      <table className="table audit-table">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">
              <span className="sr-only">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((event) => (
            <AuditRow key={event.id} event={event} />
          ))}
        </tbody>
      </table>
      <ErrorAlert error={events.isFetchNextPageError ? events.error : undefined} />
      {events.hasNextPage ? (
        <div className="form-actions load-more">
          <button type="button" className="button" disabled={events.isFetchingNextPage} onClick={() => void events.fetchNextPage()}>
            {events.isFetchingNextPage ? 'Loading…' : 'Load older events'}
          </button>
        </div>
      ) : (
        <p className="muted small load-more">That is the whole log for these filters.</p>
      )}
    </>
  );
}
