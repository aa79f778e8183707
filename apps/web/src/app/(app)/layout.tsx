// Everything but /sign-in: checked on the server, so no page renders for a visitor without a session.
import { requestedPathHeader, safeReturnPath } from '@cider/api/request-facts';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { AppShell } from '../../components/shell/app-shell.tsx';
import { currentUser } from '../../server/session.ts';

export default async function SignedInLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) {
    // Back to the page asked for after signing in (only a path of this site: safeReturnPath).
    const asked = safeReturnPath((await headers()).get(requestedPathHeader));
    redirect(asked === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(asked)}`);
  }
  return <AppShell user={user}>{children}</AppShell>;
}
