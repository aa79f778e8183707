'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { AddMemberForm } from './add-member-form.tsx';
import { RenameTeamForm } from './rename-team-form.tsx';
import { TeamMembers } from './team-members.tsx';

type Team = RouterOutputs['teams']['list'][number];
type User = RouterOutputs['users']['list'][number];

/** One team: its name (rename, delete), its members and their team roles, and adding someone. */
export function TeamPanel({ team, users }: { team: Team; users: User[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [renaming, setRenaming] = useState(false);
  const [status, setStatus] = useState<string>();
  const refresh = (message: string) => {
    setStatus(message);
    void queryClient.invalidateQueries({ queryKey: trpc.teams.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
  };
  const remove = useMutation(trpc.teams.delete.mutationOptions({ onMutate: () => setStatus(undefined), onSuccess: () => refresh(`Deleted team ${team.name}.`) }));
  const members = users.flatMap((u) => u.teams.filter((t) => t.teamId === team.id).map((t) => ({ ...u, teamRole: t.role })));
  const headingId = `team-${team.id}`;

  return (
    <article className="team-panel" aria-labelledby={headingId} data-team={team.name}>
      <header className="team-panel-header">
        <div>
          <h3 id={headingId}>{team.name}</h3>
          <span className="muted small">
            {team.projectCount === 1 ? '1 project' : `${team.projectCount} projects`} · {team.memberCount === 1 ? '1 member' : `${team.memberCount} members`}
          </span>
        </div>
        <div className="form-actions">
          <button type="button" className="button button-small" aria-expanded={renaming} aria-label={`Rename team ${team.name}`} onClick={() => setRenaming((r) => !r)}>
            Rename
          </button>
          <ConfirmButton
            label="Delete"
            ariaLabel={`Delete team ${team.name}`}
            question={
              <>
                Delete team <strong>{team.name}</strong>? Its members lose their role in it; their accounts stay. A team that owns projects can&apos;t be deleted.
              </>
            }
            confirmLabel="Delete team"
            pending={remove.isPending}
            onConfirm={(done) => remove.mutate({ teamId: team.id }, { onSettled: done })}
          />
        </div>
      </header>
      {renaming ? (
        <RenameTeamForm
          team={team}
          onDone={(name) => {
            setRenaming(false);
            if (name !== undefined) refresh(`Renamed team ${team.name} to ${name}.`);
          }}
        />
      ) : null}
      <ErrorAlert error={remove.error} />
      {status ? (
        <p className="alert alert-ok" role="status">
          {status}
        </p>
      ) : null}
      <TeamMembers team={team} members={members} onChanged={refresh} />
      <AddMemberForm team={team} candidates={users.filter((u) => !u.teams.some((t) => t.teamId === team.id))} onAdded={refresh} />
    </article>
  );
}
