'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { useSessionUser } from '../shell/session-user.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { QueryState } from '../ui/query-state.tsx';
import { UserRow } from './user-row.tsx';

export function UserTable() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const me = useSessionUser();
  const users = useQuery(trpc.users.list.queryOptions());
  const [status, setStatus] = useState<string>();

  const refresh = (userId: string, message: string) => {
    setStatus(message);
    void queryClient.invalidateQueries({ queryKey: trpc.users.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.teams.pathKey() });
    // Your own role or account changed: the server-rendered frame must learn it too.
    if (userId === me.id) router.refresh();
  };
  const options = { onMutate: () => setStatus(undefined) };
  const setRole = useMutation(trpc.users.setRole.mutationOptions(options));
  const setDisabled = useMutation(trpc.users.setDisabled.mutationOptions(options));
  const error = setRole.error ?? setDisabled.error;

  if (!users.data) return <QueryState isPending={users.isPending} error={users.error} what="users" />;
  return (
    <>
      <ErrorAlert error={error} />
      {status ? (
        <p className="alert alert-ok" role="status">
          {status}
        </p>
      ) : null}
      <table className="table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Role</th>
            <th scope="col">Teams</th>
            <th scope="col">Status</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {users.data.map((user) => (
            <UserRow
              key={user.id}
              user={user}
              isMe={user.id === me.id}
              busy={setRole.isPending || setDisabled.isPending}
              onRole={(role) => {
                setDisabled.reset();
                setRole.mutate({ userId: user.id, role }, { onSuccess: (u) => refresh(u.id, `${u.email} is now ${u.role}.`) });
              }}
              onDisabled={(disabled) => {
                setRole.reset();
                setDisabled.mutate(
                  { userId: user.id, disabled },
                  { onSuccess: (u) => refresh(u.id, u.disabled ? `Disabled ${u.email}; their sessions have ended.` : `Enabled ${u.email}; they can sign in again.`) },
                );
              }}
              onPasswordReset={(message) => refresh(user.id, message)}
            />
          ))}
        </tbody>
      </table>
    </>
  );
}
