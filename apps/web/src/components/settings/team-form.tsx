'use client';
import { nameLimits } from '@cider/api/names';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { CountedField } from '../ui/counted-field.tsx';
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
        <CountedField
          label="Team name"
          name="name"
          required
          autoComplete="off"
          what="Team names"
          max={nameLimits.team}
          value={name}
          onChange={(value) => {
            setName(value);
            setStatus(undefined);
          }}
        />
      </div>
      <FormFooter error={create.error} status={status} submit={{ label: 'Create team', pendingLabel: 'Creating…', pending: create.isPending }} />
    </form>
  );
}
