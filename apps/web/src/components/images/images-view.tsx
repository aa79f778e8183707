'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from '../../trpc/react.ts';
import { useSessionUser } from '../shell/session-user.tsx';
import { PublishFromApple } from '../tasks/publish-from-apple.tsx';
import { TasksPanel } from '../tasks/tasks-panel.tsx';
import { PageHeader } from '../ui/page-header.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { registryHref } from './image-paths.ts';

export function ImagesView() {
  const trpc = useTRPC();
  const registries = useQuery(trpc.images.registries.queryOptions());
  const admin = useSessionUser().role === 'admin';
  return (
    <>
      <PageHeader title="Images" description="Browse the connected registries: repositories, tags, and what each image holds.">
        {admin && registries.data && registries.data.length > 0 ? <PublishFromApple /> : null}
      </PageHeader>
      <section className="card">
        {!registries.data ? (
          <QueryState isPending={registries.isPending} error={registries.error} what="registries" />
        ) : registries.data.length === 0 ? (
          <p className="muted">
            No registry is connected yet. <Link href="/registries">Connect one under Registries</Link>, then browse its images here.
          </p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Registry</th>
                <th scope="col">Host</th>
                <th scope="col" className="num">
                  Repositories
                </th>
              </tr>
            </thead>
            <tbody>
              {registries.data.map((r) => (
                <tr key={r.id} data-registry={r.name}>
                  <td className="strong">
                    <Link href={registryHref(r.id)}>{r.name}</Link>
                  </td>
                  <td>
                    <code>{r.host}</code>
                  </td>
                  <td className="num">
                    {r.repositoryCount !== null ? (
                      `${r.repositoryCount}${r.truncated ? '+' : ''}`
                    ) : (
                      <span className="muted small" title={r.catalogError ?? undefined}>
                        not listed
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {admin ? <TasksPanel kind="publish-apple" title="Publishing from Apple" /> : null}
    </>
  );
}
