'use client';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { Breadcrumbs } from './breadcrumbs.tsx';
import { CopyButton } from './copy-button.tsx';
import { registryHref } from './image-paths.ts';
import { NotFoundNote } from './not-found-note.tsx';
import { TagTable } from './tag-table.tsx';

export function RepositoryView({ registryId, repository }: { registryId: string; repository: string }) {
  const trpc = useTRPC();
  const query = useQuery(trpc.images.tags.queryOptions({ registryId, repository }));
  const code = query.error?.data?.code;
  if (code === 'NOT_FOUND' || code === 'BAD_REQUEST') {
    return <NotFoundNote what="repository" detail={query.error?.message} backHref={registryHref(registryId)} backLabel="Back to the registry" />;
  }
  const data = query.data;
  return (
    <>
      <Breadcrumbs crumbs={[{ label: 'Images', href: '/images' }, { label: data?.registry.name ?? 'Registry', href: registryHref(registryId) }, { label: repository }]} />
      <PageHeader
        title={repository}
        description={
          data ? (
            <>
              <code>
                {data.registry.host}/{repository}
              </code>{' '}
              <CopyButton value={`${data.registry.host}/${repository}`} label="Copy repository address" />
            </>
          ) : undefined
        }
      />
      <section className="card">
        <h2>Tags</h2>
        {data ? <TagTable registryId={registryId} data={data} /> : <QueryState isPending={query.isPending} error={query.error} what="tags" />}
      </section>
    </>
  );
}
