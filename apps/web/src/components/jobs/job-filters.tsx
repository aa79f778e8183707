'use client';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { stateOptions, type JobFilterValues, type StateOption } from './job-filter-values.ts';

/** State and node apply at once; a digest (or its beginning) applies on Enter or "Filter". */
export function JobFilters({ value, onChange }: { value: JobFilterValues; onChange: (next: JobFilterValues) => void }) {
  const trpc = useTRPC();
  const id = useId();
  const nodes = useQuery(trpc.nodes.list.queryOptions());
  const [digest, setDigest] = useState(value.digest ?? '');
  useEffect(() => setDigest(value.digest ?? ''), [value.digest]);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    onChange({ ...value, digest: digest.trim() || undefined });
  }

  const filtered = Boolean(value.state || value.nodeId || value.digest);
  return (
    <form className="toolbar" aria-label="Filter sync jobs" onSubmit={submit}>
      <label className="field">
        <span className="field-label">State</span>
        <select name="state" value={value.state ?? ''} onChange={(e) => onChange({ ...value, state: (e.target.value || undefined) as StateOption | undefined })}>
          <option value="">Any state</option>
          {stateOptions.map((s) => (
            <option key={s} value={s}>
              {s === 'unfinished' ? 'Not finished' : s}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span className="field-label">Node</span>
        <select name="nodeId" value={value.nodeId ?? ''} onChange={(e) => onChange({ ...value, nodeId: e.target.value || undefined })}>
          <option value="">Every node</option>
          {nodes.data?.map((n) => (
            <option key={n.id} value={n.id}>
              {n.name}
            </option>
          ))}
        </select>
      </label>
      <div className="field field-grow">
        <label htmlFor={`${id}-digest`} className="field-label">
          Digest
        </label>
        <input
          id={`${id}-digest`}
          name="digest"
          spellCheck={false}
          autoComplete="off"
          placeholder="sha256:… (the beginning is enough)"
          value={digest}
          onChange={(e) => setDigest(e.target.value)}
        />
      </div>
      <button type="submit" className="button">
        Filter
      </button>
      {filtered ? (
        <button type="button" className="button button-quiet" onClick={() => onChange({})}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}
