'use client';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { targetTypeWords } from '../../lib/words.ts';
import { useTRPC } from '../../trpc/react.ts';

export interface AuditFilterValues {
  targetType?: string;
  actor?: string;
  action?: string;
  from?: Date;
  to?: Date;
}

interface Draft {
  targetType: string;
  actor: string;
  action: string;
  from: string;
  to: string;
}

const blank: Draft = { targetType: '', actor: '', action: '', from: '', to: '' };

/** `YYYY-MM-DD` from a date field, as the start (or end) of that day in the browser's time zone. */
function dayBound(value: string, end: boolean): Date | undefined {
  if (!value) return undefined;
  const date = new Date(`${value}T00:00:00`);
  if (Number.isNaN(date.getTime())) return undefined;
  if (end) {
    date.setDate(date.getDate() + 1);
    date.setMilliseconds(-1);
  }
  return date;
}

function toFilters(draft: Draft): AuditFilterValues {
  return {
    targetType: draft.targetType || undefined,
    actor: draft.actor.trim() || undefined,
    action: draft.action.trim() || undefined,
    from: dayBound(draft.from, false),
    to: dayBound(draft.to, true),
  };
}

export function AuditFilters({ onApply }: { onApply: (filters: AuditFilterValues) => void }) {
  const trpc = useTRPC();
  const targetTypes = useQuery(trpc.audit.targetTypes.queryOptions());
  const [draft, setDraft] = useState<Draft>(blank);

  function update(patch: Partial<Draft>) {
    setDraft((d) => ({ ...d, ...patch }));
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onApply(toFilters(draft));
  }

  return (
    <form className="form" aria-label="Filter the audit log" onSubmit={submit}>
      <div className="form-grid audit-filter-grid">
        <label className="field">
          <span className="field-label">Target type</span>
          <select name="targetType" value={draft.targetType} onChange={(e) => update({ targetType: e.target.value })}>
            <option value="">Any</option>
            {targetTypes.data?.map((t) => (
              <option key={t} value={t}>
                {targetTypeWords(t)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Actor</span>
          <input name="actor" placeholder="email, system, node:…" value={draft.actor} onChange={(e) => update({ actor: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Action starts with</span>
          <input name="action" placeholder="pin." value={draft.action} onChange={(e) => update({ action: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">From</span>
          <input name="from" type="date" value={draft.from} onChange={(e) => update({ from: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">To</span>
          <input name="to" type="date" value={draft.to} onChange={(e) => update({ to: e.target.value })} />
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary">
          Apply filters
        </button>
        <button
          type="button"
          className="button"
          onClick={() => {
            setDraft(blank);
            onApply({});
          }}
        >
          Clear
        </button>
      </div>
    </form>
  );
}
