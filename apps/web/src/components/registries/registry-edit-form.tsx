'use client';
// Editing a connected registry in its table row: name, host and credentials. The stored password
// is never sent to the browser; leaving the field blank keeps it. The server checks the registry
// answers with the new settings before saving, and refuses to move a registry that pins use.
import { nameLimits } from '@cider/api/names';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { CountedField } from '../ui/counted-field.tsx';
import { FormFooter } from '../ui/form-footer.tsx';

export interface EditableRegistry {
  id: string;
  name: string;
  host: string;
  plainHttp: boolean;
  authKind: 'none' | 'basic';
  username: string | null;
  hasPassword: boolean;
}

export function RegistryEditForm({ registry, onDone }: { registry: EditableRegistry; onDone(message?: string): void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState({ name: registry.name, host: registry.host, plainHttp: registry.plainHttp, authKind: registry.authKind, username: registry.username ?? '', password: '' });
  const update = useMutation(trpc.registries.update.mutationOptions());
  const titleId = `edit-registry-${registry.id}`;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { username, password, ...rest } = draft;
    const input = draft.authKind === 'basic' ? { ...rest, username, ...(password ? { password } : {}) } : rest;
    update.mutate(
      { id: registry.id, ...input },
      {
        onSuccess(saved) {
          void queryClient.invalidateQueries({ queryKey: trpc.registries.list.queryKey() });
          onDone(`Saved registry ${saved.name} (${saved.host}).`);
        },
      },
    );
  }

  const keepsPassword = registry.hasPassword && registry.authKind === 'basic';
  return (
    <form className="form" aria-labelledby={titleId} onSubmit={submit}>
      <h3 id={titleId}>Edit registry {registry.name}</h3>
      <div className="form-grid">
        <CountedField label="Name" name="name" required autoComplete="off" what="Registry names" max={nameLimits.registry} value={draft.name} onChange={(name) => setDraft((d) => ({ ...d, name }))} />
        <label className="field">
          <span className="field-label">Host</span>
          <input name="host" required value={draft.host} onChange={(e) => setDraft((d) => ({ ...d, host: e.target.value }))} />
        </label>
        <label className="field">
          <span className="field-label">Authentication</span>
          <select name="authKind" value={draft.authKind} onChange={(e) => setDraft((d) => ({ ...d, authKind: e.target.value === 'basic' ? 'basic' : 'none' }))}>
            <option value="none">None</option>
            <option value="basic">Username and password</option>
          </select>
        </label>
        {draft.authKind === 'basic' ? (
          <>
            <label className="field">
              <span className="field-label">Username</span>
              <input name="username" autoComplete="off" value={draft.username} onChange={(e) => setDraft((d) => ({ ...d, username: e.target.value }))} />
            </label>
            <label className="field">
              <span className="field-label">{keepsPassword ? 'New password' : 'Password'}</span>
              <input
                name="password"
                type="password"
                autoComplete="new-password"
                placeholder={keepsPassword ? 'Leave blank to keep the current one' : ''}
                value={draft.password}
                onChange={(e) => setDraft((d) => ({ ...d, password: e.target.value }))}
              />
            </label>
          </>
        ) : null}
      </div>
      <label className="checkbox">
        <input type="checkbox" name="plainHttp" checked={draft.plainHttp} onChange={(e) => setDraft((d) => ({ ...d, plainHttp: e.target.checked }))} />
        Plain HTTP
      </label>
      <FormFooter
        error={update.error}
        submit={{ label: 'Save registry', pendingLabel: 'Checking and saving…', pending: update.isPending, small: true }}
        after={
          <button type="button" className="button button-quiet button-small" disabled={update.isPending} onClick={() => onDone()}>
            Cancel
          </button>
        }
      />
    </form>
  );
}
