'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useId, useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import { useTRPC } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { RegistryEditForm } from './registry-edit-form.tsx';
import { immutableTagsExplanation } from './tag-policy.ts';

export function RegistryTable() {
  const trpc = useTRPC();
  const isAdmin = useIsAdmin();
  const registries = useQuery(trpc.registries.list.queryOptions());
  // The fresh outcome arrives through the registry.updated event.
  const check = useMutation(trpc.registries.check.mutationOptions());
  const queryClient = useQueryClient();
  const hintId = useId();
  // The toggle shows the new state at once (a controlled checkbox would otherwise snap back until
  // the request settles), and the saved state once the list is fresh again.
  const [toggled, setToggled] = useState<Record<string, boolean>>({});
  const tagPolicy = useMutation(
    trpc.registries.setImmutableTags.mutationOptions({
      onSettled: async (_data, _error, variables) => {
        await queryClient.invalidateQueries({ queryKey: trpc.registries.list.queryKey() });
        setToggled(({ [variables.id]: _done, ...rest }) => rest);
      },
    }),
  );
  const [editing, setEditing] = useState<string>();
  const [status, setStatus] = useState<string>();
  const remove = useMutation(trpc.registries.delete.mutationOptions());
  function setImmutableTags(id: string, immutableTags: boolean) {
    setToggled((t) => ({ ...t, [id]: immutableTags }));
    tagPolicy.mutate({ id, immutableTags });
  }

  if (!registries.data) return <QueryState isPending={registries.isPending} error={registries.error} what="registries" />;
  if (registries.data.length === 0) return <p className="muted">No registries yet. Add the registry your images live in below.</p>;
  return (
    <>
      <ErrorAlert error={check.error ?? tagPolicy.error ?? remove.error} />
      {status ? (
        <p className="alert alert-ok" role="status">
          {status}
        </p>
      ) : null}
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Host</th>
            <th scope="col">Authentication</th>
            <th scope="col">Tags</th>
            <th scope="col">Last check</th>
            {isAdmin ? <th scope="col">
                <span className="sr-only">Actions</span>
              </th> : null}
          </tr>
        </thead>
        <tbody>
          {registries.data.map((r) => (
            <Fragment key={r.id}>
            <tr data-registry={r.name}>
              <td className="strong">
                {r.name}
                {r.immutableTags ? (
                  <span className="badge badge-info" data-badge="immutable-tags" title={immutableTagsExplanation}>
                    Immutable tags
                  </span>
                ) : null}
              </td>
              <td>
                <code>{r.host}</code>
                {r.plainHttp ? <span className="badge badge-warn">plain HTTP</span> : null}
              </td>
              <td>{r.authKind === 'basic' ? `Username and password (${r.username ?? '?'})` : 'None'}</td>
              <td data-field="tag-policy">
                {isAdmin ? (
                  <label className="checkbox checkbox-small">
                    <input
                      type="checkbox"
                      aria-label={`Immutable tags on ${r.name}`}
                      aria-describedby={hintId}
                      checked={toggled[r.id] ?? r.immutableTags}
                      disabled={r.id in toggled}
                      onChange={(e) => setImmutableTags(r.id, e.target.checked)}
                    />
                    Immutable
                  </label>
                ) : r.immutableTags ? (
                  'Immutable'
                ) : (
                  <span className="muted">May move</span>
                )}
                {r.movedTags.count > 0 ? (
                  <p className="text-error table-cell-note" data-field="moved-tags">
                    {r.movedTags.count === 1 ? '1 tag moved' : `${r.movedTags.count} tags moved`} anyway
                    {r.movedTags.lastReference ? (
                      <>
                        , latest <code>{r.movedTags.lastReference}</code> {timeAgo(r.movedTags.lastAt)}
                      </>
                    ) : null}
                    . See the audit log (<code>tag.moved</code>).
                  </p>
                ) : null}
              </td>
              <td>
                {r.lastError ? <span className="text-error">{r.lastError}</span> : <span className="text-ok">OK</span>}{' '}
                <span className="muted">{timeAgo(r.lastCheckedAt)}</span>
              </td>
              {isAdmin ? (
                <td className="actions">
                  <button
                    type="button"
                    className="button button-small"
                    disabled={check.isPending && check.variables?.registryId === r.id}
                    onClick={() => check.mutate({ registryId: r.id })}
                  >
                    Check now<span className="sr-only"> registry {r.name}</span>
                  </button>{' '}
                  <button
                    type="button"
                    className="button button-small"
                    aria-label={`Edit registry ${r.name}`}
                    aria-expanded={editing === r.id}
                    onClick={() => {
                      setStatus(undefined);
                      setEditing(editing === r.id ? undefined : r.id);
                    }}
                  >
                    Edit
                  </button>{' '}
                  <ConfirmButton
                    label="Delete"
                    ariaLabel={`Delete registry ${r.name}`}
                    question={
                      <>
                        Delete registry <strong>{r.name}</strong> ({r.host})? Its mirrors and its tag history go with it; images stay in the registry and on the nodes. A registry that pins use
                        can&apos;t be deleted.
                      </>
                    }
                    confirmLabel="Delete registry"
                    pending={remove.isPending && remove.variables?.id === r.id}
                    onConfirm={(done) => {
                      setStatus(undefined);
                      remove.mutate(
                        { id: r.id },
                        {
                          onSuccess(removed) {
                            done();
                            setStatus(`Deleted registry ${removed.name}.`);
                            void queryClient.invalidateQueries({ queryKey: trpc.registries.list.queryKey() });
                          },
                          onError: () => done(),
                        },
                      );
                    }}
                  />
                </td>
              ) : null}
            </tr>
            {isAdmin && editing === r.id ? (
              <tr className="edit-row">
                <td colSpan={6}>
                  <RegistryEditForm
                    registry={r}
                    onDone={(message) => {
                      setEditing(undefined);
                      setStatus(message);
                    }}
                  />
                </td>
              </tr>
            ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
      <p id={hintId} className="hint table-note">
        <span className="strong">Immutable tags:</span> {immutableTagsExplanation}
      </p>
    </>
  );
}
