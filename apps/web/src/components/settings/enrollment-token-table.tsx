'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { formatLabels, timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { TokenStatus } from './token-status.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';

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
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Labels</th>
            <th scope="col" className="num">
              Uses left
            </th>
            <th scope="col">Expires</th>
            <th scope="col">Created</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.data.map((t) => (
            <tr key={t.id} data-enrollment-token={t.name}>
              <td className="strong">{t.name}</td>
              <td>{Object.keys(t.labels).length > 0 ? <code>{formatLabels(Object.fromEntries(Object.entries(t.labels).sort(([a], [b]) => a.localeCompare(b))))}</code> : <span className="muted">none</span>}</td>
              <td className="num">{t.usesLeft ?? <span className="muted">unlimited</span>}</td>
              <td title={t.expiresAt?.toLocaleString()}>{t.expiresAt ? timeAgo(t.expiresAt) : <span className="muted">never</span>}</td>
              <td>
                {timeAgo(t.createdAt)}
                {t.createdBy ? <div className="muted small">by {t.createdBy}</div> : null}
              </td>
              <td>
                <TokenStatus status={t.status} />
              </td>
              <td className="actions">
                {t.status === 'revoked' ? null : (
                  <ConfirmButton
                    label="Revoke"
                    ariaLabel={`Revoke enrollment token ${t.name}`}
                    question={`Revoke ${t.name}? Macs can no longer enroll with it; nodes it already enrolled keep working.`}
                    confirmLabel="Revoke token"
                    pending={revoke.isPending}
                    onConfirm={(done) => revoke.mutate({ tokenId: t.id }, { onSuccess: done })}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
