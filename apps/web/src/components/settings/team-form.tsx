'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';

export function TeamForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [name, setName] = useState('');
  const [status, setStatus] = useState<string>();
  const create = useMutation(trpc.teams.create.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setStatus(undefined);
    create.mutate(
      { name },
      {
        onSuccess(team) {
          setName('');
          setStatus(`Created team ${team.name}.`);
          void queryClient.invalidateQueries({ queryKey: trpc.teams.pathKey() });
        },
      },
    );
  }

  return (
    <form className="form form-inline" aria-labelledby={`${id}-title`} onSubmit={submit}>
      <h3 id={`${id}-title`}>New team</h3>
      <div className="form-grid">
        <label className="field">
          <span className="field-label">Team name</span>
          <input
            name="name"
            required
            maxLength={63}
            autoComplete="off"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              setStatus(undefined);
            }}
          />
        </label>
      </div>
      <FormFooter error={create.error} status={status} submit={{ label: 'Create team', pendingLabel: 'Creating…', pending: create.isPending }} />
    </form>
  );
}
