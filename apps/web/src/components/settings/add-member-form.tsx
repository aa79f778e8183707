'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { RoleSelect, type Role } from './role-select.tsx';

export function AddMemberForm({
  team,
  candidates,
  onAdded,
}: {
  team: { id: string; name: string };
  candidates: { id: string; email: string; name: string }[];
  onAdded: (message: string) => void;
}) {
  const trpc = useTRPC();
  const [chosen, setChosen] = useState('');
  const [role, setRole] = useState<Role>('member');
  const add = useMutation(trpc.teams.addMember.mutationOptions());
  // A chosen user who has just been added is no longer a candidate.
  const userId = candidates.some((c) => c.id === chosen) ? chosen : '';

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const user = candidates.find((c) => c.id === userId);
    if (!user) return;
    add.mutate(
      { teamId: team.id, userId, role },
      {
        onSuccess() {
          setChosen('');
          onAdded(`Added ${user.email} to ${team.name} as ${role}.`);
        },
      },
    );
  }

  if (candidates.length === 0) return null;
  return (
    <form className="inline-form" aria-label={`Add a member to ${team.name}`} onSubmit={submit}>
      <label className="field">
        <span className="field-label">User</span>
        <select name="userId" required value={userId} onChange={(e) => setChosen(e.target.value)}>
          <option value="">Choose a user…</option>
          {candidates.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.email})
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span className="field-label">Team role</span>
        <RoleSelect name="role" value={role} onChange={setRole} />
      </label>
      <button type="submit" className="button button-small button-primary" disabled={add.isPending || !userId}>
        Add member
      </button>
      <ErrorAlert error={add.error} />
    </form>
  );
}
