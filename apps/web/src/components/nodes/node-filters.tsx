'use client';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { isFiltered, stateFilters, syncFilterLabels, syncFilters, type NodeListView } from './node-filter-values.ts';

/** State, sync, conditions and disk apply at once; name, label and site on Enter or "Filter". Any change goes back to page 1. */
export function NodeFilters({ value, onChange }: { value: NodeListView; onChange: (next: NodeListView) => void }) {
  const id = useId();
  const [text, setText] = useState({ search: value.search ?? '', label: value.label ?? '', site: value.site ?? '' });
  useEffect(() => setText({ search: value.search ?? '', label: value.label ?? '', site: value.site ?? '' }), [value.search, value.label, value.site]);

  function apply(next: Partial<NodeListView>) {
    onChange({ ...value, ...next, page: 1 });
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    apply({ search: text.search.trim() || undefined, label: text.label.trim() || undefined, site: text.site.trim() || undefined });
  }

  const textField = (name: 'search' | 'label' | 'site', label: string, placeholder: string, max: number) => (
    <div className={name === 'search' ? 'field field-grow' : 'field'}>
      <label htmlFor={`${id}-${name}`} className="field-label">
        {label}
      </label>
      <input
        id={`${id}-${name}`}
        name={name}
        type={name === 'search' ? 'search' : 'text'}
        spellCheck={false}
        autoComplete="off"
        maxLength={max}
        placeholder={placeholder}
        value={text[name]}
        onChange={(e) => setText({ ...text, [name]: e.target.value })}
      />
    </div>
  );

  return (
    <form className="toolbar" role="search" aria-label="Filter nodes" onSubmit={submit}>
      {textField('search', 'Name', 'Part of a name', 100)}
      {textField('label', 'Label', 'key=value or key', 200)}
      {textField('site', 'Site', 'The site label', 100)}
      <label className="field">
        <span className="field-label">State</span>
        <select name="state" value={value.state ?? ''} onChange={(e) => apply({ state: stateFilters.find((s) => s === e.target.value) })}>
          <option value="">Online or offline</option>
          {stateFilters.map((s) => (
            <option key={s} value={s}>
              {s === 'revoked' ? 'Revoked or decommissioned' : s[0]!.toUpperCase() + s.slice(1)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span className="field-label">Sync</span>
        <select name="sync" value={value.sync ?? ''} onChange={(e) => apply({ sync: syncFilters.find((s) => s === e.target.value) })}>
          <option value="">Any</option>
          {syncFilters.map((s) => (
            <option key={s} value={s}>
              {syncFilterLabels[s]}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span className="field-label">Conditions</span>
        <select name="condition" value={value.condition ?? ''} onChange={(e) => apply({ condition: e.target.value === 'any' ? 'any' : undefined })}>
          <option value="">With or without</option>
          <option value="any">Has a condition</option>
        </select>
      </label>
      <label className="field">
        <span className="field-label">Disk</span>
        <select name="disk" value={value.disk ?? ''} onChange={(e) => apply({ disk: e.target.value === 'low' ? 'low' : undefined })}>
          <option value="">Any</option>
          <option value="low">Low (under 10% free)</option>
        </select>
      </label>
      <button type="submit" className="button">
        Filter
      </button>
      {isFiltered(value) ? (
        <button type="button" className="button button-quiet" onClick={() => onChange({ ...value, search: undefined, label: undefined, site: undefined, state: undefined, sync: undefined, condition: undefined, disk: undefined, page: 1 })}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}
