'use client';
// Renaming a team in its panel (audited as team.rename); names are unique regardless of case.
import { nameLimits } from '@cider/api/names';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { CountedField } from '../ui/counted-field.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';

export function RenameTeamForm({ team, onDone }: { team: { id: string; name: string }; /** With the new name once saved; without one when cancelled. */
  onDone: (name?: string) => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState(team.name);
  const rename = useMutation(trpc.teams.rename.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    rename.mutate({ teamId: team.id, name }, { onSuccess: (renamed) => onDone(renamed.name) });
  }

  return (
    <form className="inline-form" aria-label={`Rename team ${team.name}`} onSubmit={submit}>
      <CountedField label="New name" required autoComplete="off" what="Team names" max={nameLimits.team} value={name} onChange={setName} />
      <button type="submit" className="button button-small button-primary" disabled={rename.isPending}>
        Save name
      </button>
      <button type="button" className="button button-small button-quiet" disabled={rename.isPending} onClick={() => onDone()}>
        Cancel
      </button>
      <ErrorAlert error={rename.error} />
    </form>
  );
}
