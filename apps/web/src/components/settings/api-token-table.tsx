'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { DataTable, type Column } from '../ui/data-table.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { TokenStatus } from './token-status.tsx';

type Token = RouterOutputs['tokens']['api']['list'][number];

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
          <DataTable
            rows={tokens.data}
            rowKey={(t) => t.id}
            rowAttributes={(t) => ({ 'data-api-token': t.name })}
            columns={[
              { header: 'Name', kind: 'strong', cell: (t) => t.name },
              ...(scope === 'all' ? [{ header: 'Owner', cell: (t) => t.user.email } satisfies Column<Token>] : []),
              { header: 'Created', cell: (t) => timeAgo(t.createdAt) },
              { header: 'Last used', cell: (t) => timeAgo(t.lastUsedAt) },
              { header: 'Expires', cell: (t) => (t.expiresAt ? timeAgo(t.expiresAt) : <span className="muted">never</span>), title: (t) => t.expiresAt?.toLocaleString() },
              { header: 'Status', cell: (t) => <TokenStatus status={statusOf(t)} /> },
              {
                header: 'Actions',
                kind: 'actions',
                cell: (t) =>
                  statusOf(t) === 'revoked' ? null : (
                    <ConfirmButton
                      label="Revoke"
                      ariaLabel={`Revoke API token ${t.name}`}
                      question={`Revoke ${t.name}? Scripts using it are refused from now on.`}
                      confirmLabel="Revoke token"
                      pending={revoke.isPending}
                      onConfirm={(done) => revoke.mutate({ tokenId: t.id }, { onSuccess: done })}
                    />
                  ),
              },
            ]}
          />
        </>
      )}
    </>
  );
}
