'use client';
import { nameLimits } from '@cider/api/names';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';
import { CountedField } from '../ui/counted-field.tsx';
import { SelectorPreview } from './selector-preview.tsx';

export function ProjectForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const id = useId();
  const teams = useQuery(trpc.teams.list.queryOptions());
  const [name, setName] = useState('');
  const [chosenTeam, setTeamId] = useState('');
  const [nodeSelector, setNodeSelector] = useState('');
  const create = useMutation(trpc.projects.create.mutationOptions());
  // Preselect the first team: most installations start with just one.
  const teamId = chosenTeam || teams.data?.[0]?.id || '';

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    create.mutate(
      { name, teamId, nodeSelector },
      {
        onSuccess(project) {
          void queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() });
          router.push(`/projects/${project.id}`);
        },
      },
    );
  }

  return (
    <form className="form" aria-labelledby="new-project-title" onSubmit={submit}>
      <h2 id="new-project-title">New project</h2>
      <div className="form-grid">
        <CountedField label="Name" name="name" required autoComplete="off" what="Project names" max={nameLimits.project} value={name} onChange={setName} />
        <label className="field">
          <span className="field-label">Team</span>
          <select name="teamId" required value={teamId} onChange={(e) => setTeamId(e.target.value)}>
            {teams.data?.length === 0 ? <option value="">No teams yet</option> : null}
            {teams.data?.map((team) => (
              <option key={team.id} value={team.id}>
                {team.name}
              </option>
            ))}
          </select>
        </label>
        <div className="field">
          <label htmlFor={`${id}-selector`} className="field-label">
            Node selector
          </label>
          <input
            id={`${id}-selector`}
            name="nodeSelector"
            placeholder="pool=ios-ci"
            maxLength={500}
            aria-describedby={`${id}-selector-hint ${id}-selector-preview`}
            value={nodeSelector}
            onChange={(e) => setNodeSelector(e.target.value)}
          />
          <span id={`${id}-selector-hint`} className="hint">
            pool=ios-ci; empty = all nodes
          </span>
          <SelectorPreview id={`${id}-selector-preview`} selector={nodeSelector} />
        </div>
      </div>
      <FormFooter error={create.error ?? teams.error} submit={{ label: 'Create project', pendingLabel: 'Creating…', pending: create.isPending, disabled: !teamId }} />
    </form>
  );
}
