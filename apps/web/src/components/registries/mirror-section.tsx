'use client';
// The registries' mirrors: pull-through caches a site already runs. Agents of a node labelled
// site=<site> read from the site's mirror first and from the registry when it fails; what they
// pull is verified either way. Passwords go to the server and never come back.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { FormFooter } from '../ui/form-footer.tsx';
import { QueryState } from '../ui/query-state.tsx';

interface Draft {
  registryId: string;
  site: string;
  host: string;
  plainHttp: boolean;
  username: string;
  password: string;
}

const blank: Draft = { registryId: '', site: '', host: '', plainHttp: false, username: '', password: '' };

const siteName = (site: string) => (site === '*' ? 'Every site' : site);

export function MirrorSection() {
  const trpc = useTRPC();
  const isAdmin = useIsAdmin();
  const registries = useQuery(trpc.registries.list.queryOptions());
  const mirrors = useQuery(trpc.registries.mirrors.list.queryOptions({}));
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.registries.mirrors.list.queryKey() });
  const remove = useMutation(trpc.registries.mirrors.remove.mutationOptions({ onSuccess: refresh }));

  const registryName = new Map((registries.data ?? []).map((r) => [r.id, r.name]));
  return (
    <>
      <h2 id="mirrors-title">Mirrors</h2>
      <p className="hint">
        A pull-through cache a site already runs (a registry in proxy mode, Harbor, Dragonfly). Nodes labelled <code>site=&lt;site&gt;</code> pull through their site&apos;s
        mirror and fall back to the registry when it fails; every image is verified by digest either way.
      </p>
      {!mirrors.data ? (
        <QueryState isPending={mirrors.isPending} error={mirrors.error} what="mirrors" />
      ) : mirrors.data.length === 0 ? (
        <p className="muted">No mirrors: nodes pull from the registries themselves.</p>
      ) : (
        <>
          <ErrorAlert error={remove.error} />
          <table className="table" aria-labelledby="mirrors-title">
            <thead>
              <tr>
                <th scope="col">Registry</th>
                <th scope="col">Site</th>
                <th scope="col">Mirror host</th>
                <th scope="col">Credentials</th>
                {isAdmin ? (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {mirrors.data.map((m) => {
                const what = `the mirror of ${registryName.get(m.registryId) ?? 'this registry'} for ${m.site === '*' ? 'every site' : `site ${m.site}`}`;
                return (
                  <tr key={m.id} data-mirror={`${m.registryId} ${m.site}`}>
                    <td className="strong">{registryName.get(m.registryId) ?? m.registryId}</td>
                    <td>{siteName(m.site)}</td>
                    <td>
                      <code>{m.host}</code>
                      {m.plainHttp ? <span className="badge badge-warn">plain HTTP</span> : null}
                    </td>
                    <td>{m.hasCredentials ? `Username and password (${m.username ?? '?'})` : 'None'}</td>
                    {isAdmin ? (
                      <td className="actions">
                        <ConfirmButton
                          label="Remove"
                          ariaLabel={`Remove ${what}`}
                          question={`Remove ${what}? Its nodes will pull from the registry itself.`}
                          confirmLabel="Remove mirror"
                          pending={remove.isPending && remove.variables?.id === m.id}
                          onConfirm={(done) => remove.mutate({ id: m.id }, { onSuccess: done })}
                        />
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
      {isAdmin && registries.data && registries.data.length > 0 ? <MirrorForm registries={registries.data} onAdded={refresh} /> : null}
    </>
  );
}

function MirrorForm({ registries, onAdded }: { registries: { id: string; name: string }[]; onAdded: () => unknown }) {
  const trpc = useTRPC();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(blank);
  const [status, setStatus] = useState<string>();
  const add = useMutation(trpc.registries.mirrors.add.mutationOptions());
  const registryId = draft.registryId || registries[0]!.id;

  function update(patch: Partial<Draft>) {
    setDraft((d) => ({ ...d, ...patch }));
    setStatus(undefined);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    const { username, password, ...rest } = draft;
    const input = { ...rest, registryId, ...(username || password ? { username, password } : {}) };
    add.mutate(input, {
      onSuccess(mirror) {
        setDraft(blank);
        setStatus(`Added mirror ${mirror.host} for ${mirror.site === '*' ? 'every site' : `site ${mirror.site}`}.`);
        void onAdded();
      },
    });
  }

  return (
    <form className="form" aria-labelledby={`${id}-title`} onSubmit={submit}>
      <h3 id={`${id}-title`}>Add a mirror</h3>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Registry</span>
          <select name="registryId" value={registryId} onChange={(e) => update({ registryId: e.target.value })}>
            {registries.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span className="field-label">Site</span>
          <input name="site" required placeholder="e.g. berlin, or * for every site" aria-describedby={`${id}-site-hint`} value={draft.site} onChange={(e) => update({ site: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Mirror host</span>
          <input name="host" required placeholder="e.g. mirror.berlin.example:5000" value={draft.host} onChange={(e) => update({ host: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Username (optional)</span>
          <input name="username" autoComplete="off" value={draft.username} onChange={(e) => update({ username: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Password (optional)</span>
          <input name="password" type="password" autoComplete="new-password" value={draft.password} onChange={(e) => update({ password: e.target.value })} />
        </label>
      </div>
      <p id={`${id}-site-hint`} className="hint">
        The value of the nodes&apos; <code>site</code> label. A site&apos;s own mirror comes before the one for every site (<code>*</code>).
      </p>
      <div className="checkbox-row">
        <label className="checkbox">
          <input type="checkbox" name="plainHttp" aria-describedby={`${id}-plain-http-hint`} checked={draft.plainHttp} onChange={(e) => update({ plainHttp: e.target.checked })} />
          Plain HTTP
        </label>
        <span id={`${id}-plain-http-hint`} className="hint">
          No TLS: only for a mirror on the site&apos;s trusted network.
        </span>
      </div>
      <FormFooter error={add.error} status={status} submit={{ label: 'Add mirror', pendingLabel: 'Adding…', pending: add.isPending }} />
    </form>
  );
}
