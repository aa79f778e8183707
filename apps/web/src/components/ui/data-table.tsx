// A table of rows described by columns: the header row, one cell per column, and per-row
// attributes (data-* hooks for tests and scripts). Numeric columns align right; an actions
// column has a header only screen readers hear. Columns with a sortKey get a header button when
// the table is given onSortChange: the caller sorts (on the server, for long lists).
import type { HTMLAttributes, ReactNode } from 'react';

export interface Column<T> {
  header: string;
  cell(row: T, index: number): ReactNode;
  /** 'num' aligns right (sizes, counts); 'actions' holds buttons and hides its header. */
  kind?: 'num' | 'actions' | 'strong';
  /** A tooltip for the cell, e.g. the exact value behind a rounded one. */
  title?(row: T): string | undefined;
  /** The key this column sorts by (sent back through onSortChange). */
  sortKey?: string;
}

export interface TableSort {
  key: string;
  direction: 'asc' | 'desc';
}

type RowAttributes = HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | undefined>;

/** A header that sorts: a button saying which way it sorts now, aria-sort on the sorted column. */
function SortHeader({ header, sortKey, sort, onSortChange }: { header: string; sortKey: string; sort: TableSort | undefined; onSortChange(sort: TableSort): void }) {
  const active = sort?.key === sortKey ? sort.direction : undefined;
  const next: TableSort = { key: sortKey, direction: active === 'asc' ? 'desc' : 'asc' };
  return (
    <button type="button" className="sort-button" onClick={() => onSortChange(next)} title={`Sort by ${header.toLowerCase()}, ${next.direction === 'asc' ? 'ascending' : 'descending'}`}>
      {header}
      <span className="sort-mark" aria-hidden="true">
        {active === 'asc' ? '▲' : active === 'desc' ? '▼' : '↕'}
      </span>
    </button>
  );
}

export function DataTable<T>({
  rows,
  columns,
  rowKey,
  rowAttributes,
  label,
  sort,
  onSortChange,
}: {
  rows: readonly T[];
  columns: Column<T>[];
  rowKey(row: T, index: number): string;
  rowAttributes?(row: T): RowAttributes;
  label?: string;
  sort?: TableSort;
  onSortChange?(sort: TableSort): void;
}) {
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th
              key={column.header}
              scope="col"
              className={column.kind === 'num' ? 'num' : undefined}
              aria-sort={column.sortKey && sort?.key === column.sortKey ? (sort.direction === 'asc' ? 'ascending' : 'descending') : undefined}
            >
              {column.kind === 'actions' ? (
                <span className="sr-only">{column.header}</span>
              ) : column.sortKey && onSortChange ? (
                <SortHeader header={column.header} sortKey={column.sortKey} sort={sort} onSortChange={onSortChange} />
              ) : (
                column.header
              )}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, index) => (
          <tr key={rowKey(row, index)} {...rowAttributes?.(row)}>
            {columns.map((column) => (
              <td key={column.header} className={column.kind} title={column.title?.(row)}>
                {column.cell(row, index)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
