'use client';
// The signed-in user as the (app) layout resolved it on the server, for client components that
// adapt to the role (admin-only forms).
import type { SessionUser } from '@cider/api/services';
import { createContext, useContext, type ReactNode } from 'react';

const SessionUserContext = createContext<SessionUser | undefined>(undefined);

export function SessionUserProvider({ user, children }: { user: SessionUser; children: ReactNode }) {
  return <SessionUserContext.Provider value={user}>{children}</SessionUserContext.Provider>;
}

export function useSessionUser(): SessionUser {
  const user = useContext(SessionUserContext);
  if (!user) throw new Error('useSessionUser is only available inside the signed-in app layout');
  return user;
}

export function useIsAdmin(): boolean {
  return useSessionUser().role === 'admin';
}
