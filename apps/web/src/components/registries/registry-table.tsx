'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';

export function RegistryTable() {
  const trpc = useTRPC();
  const isAdmin = useIsAdmin();
  const registries = useQuery(trpc.registries.list.queryOptions());
  // The fresh outcome arrives through the registry.updated event.
  const check = useMutation(trpc.registries.check.mutationOptions());

  if (!registries.data) return <QueryState isPending={registries.isPending} error={registries.error} what="registries" />;
  if (registries.data.length === 0) return <p className="muted">No registries yet. Add the registry your images live in below.</p>;
  return (
    <>
      <ErrorAlert error={check.error} />
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Host</th>
            <th scope="col">Authentication</th>
            <th scope="col">Last check</th>
            {isAdmin ? <th scope="col">
                <span className="sr-only">Actions</span>
              </th> : null}
          </tr>
        </thead>
        <tbody>
          {registries.data.map((r) => (
            <tr key={r.id} data-registry={r.name}>
              <td className="strong">{r.name}</td>
              <td>
                <code>{r.host}</code>
                {r.plainHttp ? <span className="badge badge-warn">plain HTTP</span> : null}
              </td>
              <td>{r.authKind === 'basic' ? `Username and password (${r.username ?? '?'})` : 'None'}</td>
              <td>
                {r.lastError ? <span className="text-error">{r.lastError}</span> : <span className="text-ok">OK</span>}{' '}
                <span className="muted">{timeAgo(r.lastCheckedAt)}</span>
              </td>
              {isAdmin ? (
                <td className="actions">
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Check registry ${r.name}`}
                    disabled={check.isPending && check.variables?.registryId === r.id}
                    onClick={() => check.mutate({ registryId: r.id })}
                  >
                    Check now
                  </button>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
