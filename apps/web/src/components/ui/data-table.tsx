// A table of rows described by columns: the header row, one cell per column, and per-row
// attributes (data-* hooks for tests and scripts). Numeric columns align right; an actions
// column has a header only screen readers hear.
import type { HTMLAttributes, ReactNode } from 'react';

export interface Column<T> {
  header: string;
  cell(row: T, index: number): ReactNode;
  /** 'num' aligns right (sizes, counts); 'actions' holds buttons and hides its header. */
  kind?: 'num' | 'actions' | 'strong';
  /** A tooltip for the cell, e.g. the exact value behind a rounded one. */
  title?(row: T): string | undefined;
}

type RowAttributes = HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | undefined>;

export function DataTable<T>({ rows, columns, rowKey, rowAttributes, label }: { rows: readonly T[]; columns: Column<T>[]; rowKey(row: T, index: number): string; rowAttributes?(row: T): RowAttributes; label?: string }) {
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.header} scope="col" className={column.kind === 'num' ? 'num' : undefined}>
              {column.kind === 'actions' ? <span className="sr-only">{column.header}</span> : column.header}
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
