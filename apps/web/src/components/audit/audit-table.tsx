'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { QueryState } from '../ui/query-state.tsx';
import type { AuditFilterValues } from './audit-filters.tsx';
import { AuditRow } from './audit-row.tsx';

const pageSize = 50;

/**
 * Newest first, one page at a time (keyset cursors, so pages hold still while events arrive);
 * the cursors of the pages walked through are kept to go back. Live events refetch this page.
 */
export function AuditTable({ filters }: { filters: AuditFilterValues }) {
  const trpc = useTRPC();
  // The cursor of each page reached; the first page has none.
  const [cursors, setCursors] = useState<string[]>([]);
  const [seenFilters, setSeenFilters] = useState(filters);
  if (seenFilters !== filters) {
    setSeenFilters(filters);
    setCursors([]);
  }
  const cursor = cursors.at(-1);
  const events = useQuery(trpc.audit.list.queryOptions({ ...filters, limit: pageSize, cursor }, { placeholderData: keepPreviousData }));

  if (!events.data) return <QueryState isPending={events.isPending} error={events.error} what="the audit log" />;
  const rows = events.data.events;
  if (rows.length === 0) return <p className="muted">No audit events match these filters.</p>;
  const nextCursor = events.data.nextCursor;
  const page = cursors.length + 1;
  return (
    <>
      <div className="table-scroll">
        <table className="table audit-table" aria-label="Audit events">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Changes</th>
              <th scope="col">Actor</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((event) => (
              <AuditRow key={event.id} event={event} />
            ))}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of the audit log">
        <span className="muted small" role="status">
          {page === 1 && !nextCursor ? 'Every event for these filters' : `Page ${page}${nextCursor ? '' : ' · the oldest events for these filters'}`}
        </span>
        <span className="pager-buttons">
          <button type="button" className="button button-small" disabled={page === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer events
          </button>
          <button type="button" className="button button-small" disabled={!nextCursor || events.isPlaceholderData} onClick={() => nextCursor && setCursors((c) => [...c, nextCursor])}>
            Older events
          </button>
        </span>
      </nav>
    </>
  );
}
