'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { TokenStatus } from './token-status.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';

function statusOf(token: { revokedAt: Date | null; expiresAt: Date | null }): string {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && token.expiresAt.getTime() <= Date.now()) return 'expired';
  return 'active';
}

/** Your API tokens; admins may switch to everyone's. */
export function ApiTokenTable() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const isAdmin = useIsAdmin();
  const [everyone, setEveryone] = useState(false);
  const scope = isAdmin && everyone ? 'all' : 'mine';
  const tokens = useQuery(trpc.tokens.api.list.queryOptions({ scope }));
  const revoke = useMutation(trpc.tokens.api.revoke.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.tokens.api.pathKey() }) }));

  return (
    <>
      {isAdmin ? (
        <label className="checkbox table-toggle">
          <input type="checkbox" checked={everyone} onChange={(e) => setEveryone(e.target.checked)} />
          Show every user&apos;s tokens
        </label>
      ) : null}
      {!tokens.data ? (
        <QueryState isPending={tokens.isPending} error={tokens.error} what="API tokens" />
      ) : tokens.data.length === 0 ? (
        <p className="muted">{scope === 'all' ? 'Nobody has an API token yet.' : 'You have no API tokens yet.'}</p>
      ) : (
        <>
          <ErrorAlert error={revoke.error} />
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {scope === 'all' ? <th scope="col">Owner</th> : null}
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => {
                const status = statusOf(t);
                return (
                  <tr key={t.id} data-api-token={t.name}>
                    <td className="strong">{t.name}</td>
                    {scope === 'all' ? <td>{t.user.email}</td> : null}
                    <td>{timeAgo(t.createdAt)}</td>
                    <td>{timeAgo(t.lastUsedAt)}</td>
                    <td title={t.expiresAt?.toLocaleString()}>{t.expiresAt ? timeAgo(t.expiresAt) : <span className="muted">never</span>}</td>
                    <td>
                      <TokenStatus status={status} />
                    </td>
                    <td className="actions">
                      {status === 'revoked' ? null : (
                        <ConfirmButton
                          label="Revoke"
                          ariaLabel={`Revoke API token ${t.name}`}
                          question={`Revoke ${t.name}? Scripts using it are refused from now on.`}
                          confirmLabel="Revoke token"
                          pending={revoke.isPending}
                          onConfirm={(done) => revoke.mutate({ tokenId: t.id }, { onSuccess: done })}
                        />
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}
