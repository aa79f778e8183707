'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { formatLabels, timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { TokenStatus } from './token-status.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { DataTable } from '../ui/data-table.tsx';

export function EnrollmentTokenTable() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.tokens.enrollment.list.queryOptions());
  const revoke = useMutation(
    trpc.tokens.enrollment.revoke.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.tokens.enrollment.pathKey() }) }),
  );

  if (!tokens.data) return <QueryState isPending={tokens.isPending} error={tokens.error} what="enrollment tokens" />;
  if (tokens.data.length === 0) return <p className="muted">No enrollment tokens yet.</p>;
  return (
    <>
      <ErrorAlert error={revoke.error} />
      <DataTable
        rows={tokens.data}
        rowKey={(t) => t.id}
        rowAttributes={(t) => ({ 'data-enrollment-token': t.name })}
        columns={[
          { header: 'Name', kind: 'strong', cell: (t) => t.name },
          {
            header: 'Labels',
            cell: (t) =>
              Object.keys(t.labels).length > 0 ? <code>{formatLabels(Object.fromEntries(Object.entries(t.labels).sort(([a], [b]) => a.localeCompare(b))))}</code> : <span className="muted">none</span>,
          },
          { header: 'Uses left', kind: 'num', cell: (t) => t.usesLeft ?? <span className="muted">unlimited</span> },
          { header: 'Expires', cell: (t) => (t.expiresAt ? timeAgo(t.expiresAt) : <span className="muted">never</span>), title: (t) => t.expiresAt?.toLocaleString() },
          {
            header: 'Created',
            cell: (t) => (
              <>
                {timeAgo(t.createdAt)}
                {t.createdBy ? <div className="muted small">by {t.createdBy}</div> : null}
              </>
            ),
          },
          { header: 'Status', cell: (t) => <TokenStatus status={t.status} /> },
          {
            header: 'Actions',
            kind: 'actions',
            cell: (t) =>
              t.status === 'revoked' ? null : (
                <ConfirmButton
                  label="Revoke"
                  ariaLabel={`Revoke enrollment token ${t.name}`}
                  question={`Revoke ${t.name}? Macs can no longer enroll with it; nodes it already enrolled keep working.`}
                  confirmLabel="Revoke token"
                  pending={revoke.isPending}
                  onConfirm={(done) => revoke.mutate({ tokenId: t.id }, { onSuccess: done })}
                />
              ),
          },
        ]}
      />
    </>
  );
}
