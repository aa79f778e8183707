import type { ReactNode } from 'react';

export interface SpecItem {
  /** Stable name for tests and styling, e.g. `version`. */
  field: string;
  label: string;
  value: ReactNode;
  /** Spans the whole row (digests, device lists). */
  wide?: boolean;
}

/** Facts laid out like a spec sheet: label above value, in a grid that reads across. */
export function SpecSheet({ items, label }: { items: SpecItem[]; label: string }) {
  return (
    <dl className="spec-sheet" aria-label={label}>
      {items.map((item) => (
        <div key={item.field} className={item.wide ? 'spec spec-wide' : 'spec'} data-field={item.field}>
          <dt>{item.label}</dt>
          <dd>{item.value ?? <span className="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}
