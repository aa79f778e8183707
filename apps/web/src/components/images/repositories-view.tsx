'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { Breadcrumbs } from './breadcrumbs.tsx';
import { repositoryHref } from './image-paths.ts';
import { NotFoundNote } from './not-found-note.tsx';
import { OpenRepositoryForm } from './open-repository-form.tsx';

export function RepositoriesView({ registryId }: { registryId: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.images.repositories.queryOptions({ registryId }));
  const [filter, setFilter] = useState('');

  if (query.error?.data?.code === 'NOT_FOUND' || query.error?.data?.code === 'BAD_REQUEST') return <NotFoundNote what="registry" />;
  const data = query.data;
  const needle = filter.trim().toLowerCase();
  const repositories = data?.catalog.available ? data.catalog.repositories.filter((r) => r.name.includes(needle)) : [];
  return (
    <>
      <Breadcrumbs crumbs={[{ label: 'Images', href: '/images' }, { label: data?.registry.name ?? 'Registry' }]} />
      <PageHeader title={data?.registry.name ?? 'Registry'} description={data ? <code>{data.registry.host}</code> : undefined} />
      <section className="card">
        <h2>Repositories</h2>
        {!data ? (
          <QueryState isPending={query.isPending} error={query.error} what="repositories" />
        ) : !data.catalog.available ? (
          <p className="alert alert-warn" role="status">
            {data.catalog.reason}
          </p>
        ) : data.catalog.repositories.length === 0 ? (
          <p className="muted">This registry has no repositories yet. Push an image with `cider push`, then come back.</p>
        ) : (
          <>
            <div className="toolbar">
              <label className="field field-grow">
                <span className="field-label">Filter repositories</span>
                <input type="search" name="filter" spellCheck={false} autoComplete="off" value={filter} onChange={(e) => setFilter(e.target.value)} />
              </label>
              <span className="muted small toolbar-note">
                {repositories.length} of {data.catalog.repositories.length}
                {data.catalog.truncated ? ' (the catalog was cut short)' : ''}
              </span>
            </div>
            {repositories.length === 0 ? (
              <p className="muted">No repository name contains “{filter.trim()}”.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Repository</th>
                    <th scope="col" className="num">
                      Pins
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {repositories.map((r) => (
                    <tr key={r.name} data-repository={r.name}>
                      <td>
                        <Link href={repositoryHref(registryId, r.name)} className="mono">
                          {r.name}
                        </Link>
                      </td>
                      <td className="num">{r.pins || <span className="muted">0</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
        {data ? <OpenRepositoryForm registryId={registryId} host={data.registry.host} /> : null}
      </section>
    </>
  );
}
