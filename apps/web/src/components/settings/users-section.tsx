'use client';
import { UserForm } from './user-form.tsx';
import { UserTable } from './user-table.tsx';

export function UsersSection() {
  return (
    <section className="card" id="users" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <p className="muted small">
        Admins do everything; members change pins in projects of teams where they are a member; viewers only read. Disabling a user or resetting
        their password signs them out everywhere.
      </p>
      <UserTable />
      <UserForm />
    </section>
  );
}
