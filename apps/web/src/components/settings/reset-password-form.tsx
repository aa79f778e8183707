'use client';
import { useMutation } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { FormFooter } from '../ui/form-footer.tsx';

export function ResetPasswordForm({ user, isMe, onDone, onCancel }: { user: { id: string; email: string }; isMe: boolean; onDone: (message: string) => void; onCancel: () => void }) {
  const trpc = useTRPC();
  const id = useId();
  const [password, setPassword] = useState('');
  const reset = useMutation(trpc.users.resetPassword.mutationOptions());

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    reset.mutate(
      { userId: user.id, password },
      {
        onSuccess({ sessionsEnded, apiTokensRevoked }) {
          const sessions = sessionsEnded === 1 ? '1 session' : `${sessionsEnded} sessions`;
          const tokens = apiTokensRevoked === 1 ? '1 API token' : `${apiTokensRevoked} API tokens`;
          onDone(`New password set for ${user.email}; ${sessions} ended, ${tokens} revoked.`);
        },
      },
    );
  }

  return (
    <form className="form inline-form" aria-label={`Reset password of ${user.email}`} onSubmit={submit}>
      <div className="field">
        <label htmlFor={`${id}-password`} className="field-label">
          New password for {user.email}
        </label>
        <input
          id={`${id}-password`}
          type="password"
          required
          minLength={10}
          autoComplete="new-password"
          aria-describedby={`${id}-hint`}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <span id={`${id}-hint`} className="hint">
          At least 10 characters. Every session of this user ends{isMe ? ', including this one: you will sign in again' : ''}.
        </span>
      </div>
      <FormFooter
        error={reset.error}
        submit={{ label: 'Set password', pendingLabel: 'Saving…', pending: reset.isPending, small: true }}
        after={
          <button type="button" className="button button-small" onClick={onCancel}>
            Cancel
          </button>
        }
      />
    </form>
  );
}
