import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SignInForm } from '../../components/auth/sign-in-form.tsx';
import { currentUser } from '../../server/session.ts';

export const metadata: Metadata = { title: 'Sign in' };

export default async function SignInPage() {
  if (await currentUser()) redirect('/');
  return (
    <main className="sign-in-page">
      <div className="sign-in-card">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Cider Fleet
        </div>
        <SignInForm />
      </div>
    </main>
  );
}
