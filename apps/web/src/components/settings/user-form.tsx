'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';
import { RoleSelect, type Role } from './role-select.tsx';

interface Draft {
  email: string;
  name: string;
  password: string;
  role: Role;
}

const blank: Draft = { email: '', name: '', password: '', role: 'member' };

export function UserForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [draft, setDraft] = useState<Draft>(blank);
  const [status, setStatus] = useState<string>();
  const create = useMutation(trpc.users.create.mutationOptions());

  function update(patch: Partial<Draft>) {
    setDraft((d) => ({ ...d, ...patch }));
    setStatus(undefined);
  }

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    create.mutate(draft, {
      onSuccess(user) {
        setDraft(blank);
        setStatus(`Added ${user.email} as ${user.role}. Hand them the initial password; add them to teams below.`);
        void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
      },
    });
  }

  return (
    <form className="form form-inline" aria-labelledby={`${id}-title`} onSubmit={submit}>
      <h3 id={`${id}-title`}>Add a user</h3>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Email</span>
          <input name="email" type="email" required autoComplete="off" value={draft.email} onChange={(e) => update({ email: e.target.value })} />
        </label>
        <label className="field">
          <span className="field-label">Name</span>
          <input name="name" required autoComplete="off" value={draft.name} onChange={(e) => update({ name: e.target.value })} />
        </label>
        <div className="field">
          <label htmlFor={`${id}-password`} className="field-label">
            Initial password
          </label>
          <input
            id={`${id}-password`}
            name="password"
            type="password"
            required
            minLength={10}
            autoComplete="new-password"
            aria-describedby={`${id}-password-hint`}
            value={draft.password}
            onChange={(e) => update({ password: e.target.value })}
          />
          <span id={`${id}-password-hint`} className="hint">
            At least 10 characters
          </span>
        </div>
        <label className="field">
          <span className="field-label">Role</span>
          <RoleSelect name="role" value={draft.role} onChange={(role) => update({ role })} />
        </label>
      </div>
      <FormFooter error={create.error} status={status} submit={{ label: 'Add user', pendingLabel: 'Adding…', pending: create.isPending }} />
    </form>
  );
}
