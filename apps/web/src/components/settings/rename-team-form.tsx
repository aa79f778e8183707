'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';

export function RenameTeamForm({ team, onDone }: { team: { id: string; name: string }; onDone: (name: string) => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState(team.name);
  const rename = useMutation(trpc.teams.rename.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    rename.mutate({ teamId: team.id, name }, { onSuccess: (renamed) => onDone(renamed.name) });
  }

  return (
    <form className="inline-form" aria-label={`Rename team ${team.name}`} onSubmit={submit}>
      <label className="field">
        <span className="field-label">New name</span>
        <input required maxLength={63} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <button type="submit" className="button button-small button-primary" disabled={rename.isPending}>
        Save name
      </button>
      <ErrorAlert error={rename.error} />
    </form>
  );
}
