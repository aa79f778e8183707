'use client';
// Choosing an image to pin from what the app already knows: a connected registry, then one of its
// repositories, then a tag with its version and build. Lists are short (the server cuts them) and
// searchable; a registry that keeps its catalog private is opened by repository name instead.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useDebounced } from '../../lib/use-debounced.ts';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';

type PickedTag = RouterOutputs['images']['pickTags']['tags'][number];

/** "macOS 15.2 (24C101) · 2024-12-11 · on 2 nodes": what tells one tag's image from another's. */
export function tagFacts(tag: PickedTag): string {
  const parts = [
    tag.version ? `version ${tag.version}${tag.build ? ` (${tag.build})` : ''}` : tag.build ? `build ${tag.build}` : null,
    tag.created ? tag.created.slice(0, 10) : null,
    tag.nodes > 0 ? `on ${tag.nodes} node${tag.nodes === 1 ? '' : 's'}` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}

function SearchBox({ label, value, onChange }: { label: string; value: string; onChange(value: string): void }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      <input type="search" value={value} maxLength={255} spellCheck={false} autoComplete="off" onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

/** Calls `onPick` with the full reference (`host/repository:tag`) once a tag is chosen. */
export function ImagePicker({ onPick }: { onPick(reference: string): void }) {
  const trpc = useTRPC();
  const id = useId();
  const [registryId, setRegistryId] = useState('');
  const [repoSearch, setRepoSearch] = useState('');
  const [repository, setRepository] = useState('');
  const [tagSearch, setTagSearch] = useState('');
  const [tagName, setTagName] = useState('');
  const registries = useQuery(trpc.images.registries.queryOptions());
  const repoQuery = useDebounced(repoSearch);
  const repos = useQuery(trpc.images.pickRepositories.queryOptions({ registryId, search: repoQuery }, { enabled: registryId !== '', placeholderData: keepPreviousData }));
  const typedRepository = useDebounced(repository, 400);
  const tagQuery = useDebounced(tagSearch);
  const tags = useQuery(
    trpc.images.pickTags.queryOptions({ registryId, repository: typedRepository, search: tagQuery }, { enabled: registryId !== '' && typedRepository !== '', placeholderData: keepPreviousData }),
  );
  const catalog = repos.data;
  const chosenTag = tags.data?.tags.find((t) => t.name === tagName);

  function chooseRegistry(value: string) {
    setRegistryId(value);
    setRepoSearch('');
    setRepository('');
    setTagName('');
  }
  function chooseRepository(value: string) {
    setRepository(value);
    setTagSearch('');
    setTagName('');
  }
  function chooseTag(value: string) {
    setTagName(value);
    if (value && tags.data) onPick(`${tags.data.reference}:${value}`);
  }

  if (registries.data?.length === 0) {
    return <p className="muted">No registry is connected yet: add one under Registries, then pick its images here.</p>;
  }
  return (
    <fieldset className="image-picker">
      <legend className="field-label">Choose an image</legend>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Registry</span>
          <select value={registryId} onChange={(e) => chooseRegistry(e.target.value)}>
            <option value="">Choose a registry…</option>
            {registries.data?.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name} ({r.host})
              </option>
            ))}
          </select>
        </label>
        {registryId && catalog && !catalog.available ? (
          <div className="field">
            <label className="field-label" htmlFor={`${id}-repository`}>
              Repository
            </label>
            <input id={`${id}-repository`} value={repository} placeholder="demo/macos" spellCheck={false} aria-describedby={`${id}-private`} onChange={(e) => chooseRepository(e.target.value.trim())} />
            <span id={`${id}-private`} className="hint">
              {catalog.reason}
            </span>
          </div>
        ) : registryId ? (
          <>
            {catalog && (catalog.matching > catalog.repositories.length || repoSearch !== '') ? <SearchBox label="Search repositories" value={repoSearch} onChange={setRepoSearch} /> : null}
            <div className="field">
              <label className="field-label" htmlFor={`${id}-repository`}>
                Repository
              </label>
              <select id={`${id}-repository`} value={repository} aria-describedby={`${id}-repo-count`} onChange={(e) => chooseRepository(e.target.value)}>
                <option value="">{repos.isPending ? 'Loading…' : catalog?.matching === 0 ? 'No repository matches' : 'Choose a repository…'}</option>
                {catalog?.repositories.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
              <span id={`${id}-repo-count`} className="hint">
                {catalog && catalog.matching > catalog.repositories.length ? `First ${catalog.repositories.length} of ${catalog.matching}; search to narrow.` : null}
              </span>
            </div>
          </>
        ) : null}
        {typedRepository && tags.data ? (
          <>
            {tags.data.matching > tags.data.tags.length || tagSearch !== '' ? <SearchBox label="Search tags" value={tagSearch} onChange={setTagSearch} /> : null}
            <div className="field">
              <label className="field-label" htmlFor={`${id}-tag`}>
                Tag
              </label>
              <select id={`${id}-tag`} value={tagName} aria-describedby={`${id}-tag-facts`} onChange={(e) => chooseTag(e.target.value)}>
                <option value="">{tags.data.matching === 0 ? 'No tag matches' : 'Choose a tag…'}</option>
                {tags.data.tags.map((tag) => (
                  <option key={tag.name} value={tag.name}>
                    {tagFacts(tag) ? `${tag.name} — ${tagFacts(tag)}` : tag.name}
                  </option>
                ))}
              </select>
              <span id={`${id}-tag-facts`} className="hint">
                {chosenTag ? tagFacts(chosenTag) || 'No version facts in this image.' : tags.data.matching > tags.data.tags.length ? `First ${tags.data.tags.length} of ${tags.data.matching}; search to narrow.` : null}
              </span>
            </div>
          </>
        ) : null}
      </div>
      <ErrorAlert error={registries.error ?? repos.error ?? tags.error} />
    </fieldset>
  );
}
