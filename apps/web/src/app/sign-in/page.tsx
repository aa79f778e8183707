import { safeReturnPath } from '@cider/api/request-facts';
import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SignInForm } from '../../components/auth/sign-in-form.tsx';
import { currentUser } from '../../server/session.ts';

export const metadata: Metadata = { title: 'Sign in' };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const { next } = await searchParams;
  const returnTo = safeReturnPath(typeof next === 'string' ? next : undefined);
  if (await currentUser()) redirect(returnTo);
  return (
    <main className="sign-in-page">
      <div className="sign-in-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Cider Fleet
        </div>
        <SignInForm returnTo={returnTo} />
      </div>
    </main>
  );
}
