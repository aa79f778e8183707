'use client';
import { useMutation } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { RoleSelect, type Role } from './role-select.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';

interface Member {
  id: string;
  email: string;
  name: string;
  teamRole: Role;
}

export function TeamMembers({ team, members, onChanged }: { team: { id: string; name: string }; members: Member[]; onChanged: (message: string) => void }) {
  const trpc = useTRPC();
  const setRole = useMutation(trpc.teams.setMemberRole.mutationOptions());
  const remove = useMutation(trpc.teams.removeMember.mutationOptions());

  if (members.length === 0) return <p className="muted small">No members yet.</p>;
  return (
    <>
      <ErrorAlert error={setRole.error ?? remove.error} />
      <table className="table table-compact">
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Team role</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.id} data-member={m.email}>
              <td>
                {m.name} <span className="muted small">{m.email}</span>
              </td>
              <td>
                <RoleSelect
                  label={`Role of ${m.email} in ${team.name}`}
                  value={m.teamRole}
                  disabled={setRole.isPending}
                  onChange={(role) => {
                    remove.reset();
                    setRole.mutate({ teamId: team.id, userId: m.id, role }, { onSuccess: () => onChanged(`${m.email} is now ${role} in ${team.name}.`) });
                  }}
                />
              </td>
              <td className="actions">
                <ConfirmButton
                  label="Remove"
                  ariaLabel={`Remove ${m.email} from ${team.name}`}
                  question={`Remove ${m.email} from ${team.name}? They can no longer change pins in its projects; their account stays.`}
                  confirmLabel="Remove member"
                  pending={remove.isPending && remove.variables?.userId === m.id}
                  onConfirm={(done) => {
                    setRole.reset();
                    remove.mutate({ teamId: team.id, userId: m.id }, { onSuccess: () => onChanged(`Removed ${m.email} from ${team.name}.`), onSettled: done });
                  }}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
