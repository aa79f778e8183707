'use client';
import { useMutation } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';

/** `returnTo`: the page to open once signed in (already checked to be a path of this site). */
export function SignInForm({ returnTo = '/' }: { returnTo?: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation(
    trpc.auth.signIn.mutationOptions({
      onSuccess() {
        // The response set the session cookie; the server layout now lets us in.
        router.replace(returnTo);
        router.refresh();
      },
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    signIn.mutate({ email, password });
  }

  return (
    <form className="form" aria-labelledby="sign-in-title" onSubmit={submit}>
      <h1 id="sign-in-title" className="form-title">
        Sign in
      </h1>
      <label className="field">
        <span className="field-label">Email</span>
        <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label className="field">
        <span className="field-label">Password</span>
        <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <ErrorAlert error={signIn.error} />
      <button type="submit" className="button button-primary" disabled={signIn.isPending || signIn.isSuccess}>
        {signIn.isPending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
