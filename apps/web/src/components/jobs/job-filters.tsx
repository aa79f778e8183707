'use client';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { stateOptions, type JobFilterValues, type StateOption } from './job-filter-values.ts';
import { NodeSearchField } from './node-search-field.tsx';

/** State and node (once picked from the search) apply at once; a digest (or its beginning) applies on Enter or "Filter". */
export function JobFilters({ value, onChange }: { value: JobFilterValues; onChange: (next: JobFilterValues) => void }) {
  const id = useId();
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
      <NodeSearchField nodeId={value.nodeId} onChange={(nodeId) => onChange({ ...value, nodeId })} />
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
