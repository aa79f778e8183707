// The signed-in frame: left navigation, a header with the user, and the live event stream.
import type { SessionUser } from '@cider/api/services';
import type { ReactNode } from 'react';
import { LiveEvents } from '../../live/live-events.tsx';
import { NavLinks } from './nav-links.tsx';
import { SessionUserProvider } from './session-user.tsx';
import { SignOutButton } from './sign-out-button.tsx';

export function AppShell({ user, children }: { user: SessionUser; children: ReactNode }) {
  return (
    <SessionUserProvider user={user}>
      <div className="shell">
        <aside className="sidebar">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true" />
            Cider Fleet
          </div>
          <NavLinks />
        </aside>
        <div className="main">
          <header className="topbar">
            <LiveEvents />
            <div className="user">
              <span className="user-name">{user.name || user.email}</span>
              <span className="user-meta">
                {user.email} · {user.role}
              </span>
            </div>
            <SignOutButton />
          </header>
          <main className="content">{children}</main>
        </div>
      </div>
    </SessionUserProvider>
  );
}
