'use client';
import type { ChangeEvent } from 'react';

export type Role = 'admin' | 'member' | 'viewer';
export const roles: readonly Role[] = ['admin', 'member', 'viewer'];

export function asRole(value: string): Role {
  return roles.find((r) => r === value) ?? 'viewer';
}

/** A role picker; `label` names it for assistive tech when there is no visible label. */
export function RoleSelect({ value, onChange, label, name, disabled }: { value: Role; onChange: (role: Role) => void; label?: string; name?: string; disabled?: boolean }) {
  return (
    <select name={name} aria-label={label} value={value} disabled={disabled} onChange={(e: ChangeEvent<HTMLSelectElement>) => onChange(asRole(e.target.value))}>
      {roles.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}
