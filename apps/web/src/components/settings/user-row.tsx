'use client';
import { timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { useState } from 'react';
import { ResetPasswordForm } from './reset-password-form.tsx';
import { RoleSelect, type Role } from './role-select.tsx';

type User = RouterOutputs['users']['list'][number];

export function UserRow({
  user,
  isMe,
  busy,
  onRole,
  onDisabled,
  onPasswordReset,
}: {
  user: User;
  isMe: boolean;
  busy: boolean;
  onRole: (role: Role) => void;
  onDisabled: (disabled: boolean) => void;
  onPasswordReset: (message: string) => void;
}) {
  const [resetting, setResetting] = useState(false);
  return (
    <>
      <tr data-user={user.email}>
        <td>
          <div className="strong">
            {user.name} {isMe ? <span className="badge badge-info">you</span> : null}
          </div>
          <div className="muted small">{user.email}</div>
          <div className="muted small">added {timeAgo(user.createdAt)}</div>
        </td>
        <td>
          <RoleSelect label={`Role of ${user.email}`} value={user.role} disabled={busy} onChange={onRole} />
        </td>
        <td>
          {user.teams.length === 0 ? (
            <span className="muted">none</span>
          ) : (
            <ul className="plain-list">
              {user.teams.map((t) => (
                <li key={t.teamId}>
                  {t.name} <span className="muted small">({t.role})</span>
                </li>
              ))}
            </ul>
          )}
        </td>
        <td>{user.disabled ? <span className="badge badge-muted">disabled</span> : <span className="badge badge-ok">active</span>}</td>
        <td className="actions">
          <button type="button" className="button button-small" aria-expanded={resetting} aria-label={`Reset password of ${user.email}`} onClick={() => setResetting((r) => !r)}>
            Reset password
          </button>{' '}
          <button type="button" className="button button-small" disabled={busy} aria-label={`${user.disabled ? 'Enable' : 'Disable'} ${user.email}`} onClick={() => onDisabled(!user.disabled)}>
            {user.disabled ? 'Enable' : 'Disable'}
          </button>
        </td>
      </tr>
      {resetting ? (
        <tr className="row-detail">
          <td colSpan={5}>
            <ResetPasswordForm
              user={user}
              isMe={isMe}
              onDone={(message) => {
                setResetting(false);
                onPasswordReset(message);
              }}
              onCancel={() => setResetting(false)}
            />
          </td>
        </tr>
      ) : null}
    </>
  );
}
