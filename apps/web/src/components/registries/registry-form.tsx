'use client';
import { nameLimits } from '@cider/api/names';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { CountedField } from '../ui/counted-field.tsx';
import { FormFooter } from '../ui/form-footer.tsx';
import { immutableTagsExplanation } from './tag-policy.ts';

interface Draft {
  name: string;
  host: string;
  plainHttp: boolean;
  authKind: 'none' | 'basic';
  username: string;
  password: string;
  immutableTags: boolean;
}

const blank: Draft = { name: '', host: '', plainHttp: false, authKind: 'none', username: '', password: '', immutableTags: false };

function toInput(draft: Draft) {
  const { username, password, ...rest } = draft;
  return draft.authKind === 'basic' ? { ...rest, username, password } : rest;
}

export function RegistryForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(blank);
  const [status, setStatus] = useState<string>();
  const test = useMutation(trpc.registries.test.mutationOptions());
  const create = useMutation(trpc.registries.create.mutationOptions());
  const error = create.error ?? test.error;

  function update(patch: Partial<Draft>) {
    setDraft((d) => ({ ...d, ...patch }));
    setStatus(undefined);
  }

  function runTest() {
    create.reset();
    setStatus(undefined);
    test.mutate(toInput(draft), { onSuccess: () => setStatus(`${draft.host} answered: the connection works.`) });
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    test.reset();
    setStatus(undefined);
    create.mutate(toInput(draft), {
      onSuccess(registry) {
        setDraft(blank);
        setStatus(`Added registry ${registry.name} (${registry.host}).`);
        void queryClient.invalidateQueries({ queryKey: trpc.registries.list.queryKey() });
      },
    });
  }

  const busy = test.isPending || create.isPending;
  return (
    <form className="form" aria-labelledby="add-registry-title" onSubmit={submit}>
      <h2 id="add-registry-title">Add a registry</h2>
      <div className="form-grid">
        <CountedField label="Name" name="name" required autoComplete="off" what="Registry names" max={nameLimits.registry} value={draft.name} onChange={(name) => update({ name })} />
        <label className="field">
          <span className="field-label">Host</span>
          <input name="host" required placeholder="e.g. 127.0.0.1:5000" value={draft.host} onChange={(e) => update({ host: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Authentication</span>
          <select name="authKind" value={draft.authKind} onChange={(e) => update({ authKind: e.target.value === 'basic' ? 'basic' : 'none' })}>
            <option value="none">None</option>
            <option value="basic">Username and password</option>
          </select>
        </label>
        {draft.authKind === 'basic' ? (
          <>
            <label className="field">
              <span className="field-label">Username</span>
              <input name="username" autoComplete="off" value={draft.username} onChange={(e) => update({ username: e.target.value })} />
            </label>
            <label className="field">
              <span className="field-label">Password</span>
              <input name="password" type="password" autoComplete="new-password" value={draft.password} onChange={(e) => update({ password: e.target.value })} />
            </label>
          </>
        ) : null}
      </div>
      <div className="checkbox-row">
        <label className="checkbox">
          <input
            type="checkbox"
            name="plainHttp"
            aria-describedby={`${id}-plain-http-hint`}
            checked={draft.plainHttp}
            onChange={(e) => update({ plainHttp: e.target.checked })}
          />
          Plain HTTP
        </label>
        <span id={`${id}-plain-http-hint`} className="hint">
          No TLS: only for registries on a trusted local network.
        </span>
      </div>
      <div className="checkbox-row">
        <label className="checkbox">
          <input
            type="checkbox"
            name="immutableTags"
            aria-describedby={`${id}-immutable-tags-hint`}
            checked={draft.immutableTags}
            onChange={(e) => update({ immutableTags: e.target.checked })}
          />
          Immutable tags
        </label>
        <span id={`${id}-immutable-tags-hint`} className="hint">
          {immutableTagsExplanation}
        </span>
      </div>
      <FormFooter
        error={error}
        status={status}
        submit={{ label: 'Add registry', pendingLabel: 'Adding…', pending: create.isPending, disabled: busy }}
        before={
          <button type="button" className="button" disabled={busy} onClick={runTest}>
            {test.isPending ? 'Testing…' : 'Test connection'}
          </button>
        }
      />
    </form>
  );
}
