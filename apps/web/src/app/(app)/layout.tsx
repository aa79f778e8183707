// Everything but /sign-in: checked on the server, so no page renders for a visitor without a session.
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { AppShell } from '../../components/shell/app-shell.tsx';
import { currentUser } from '../../server/session.ts';

export default async function SignedInLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) redirect('/sign-in');
  return <AppShell user={user}>{children}</AppShell>;
}
