'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useTRPC } from '../../trpc/react.ts';

export function SignOutButton() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({
      onSettled() {
        // Nothing of the previous session may linger in the cache for the next user of this tab.
        queryClient.clear();
        router.replace('/sign-in');
        router.refresh();
      },
    }),
  );
  return (
    <button type="button" className="button button-quiet" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      Sign out
    </button>
  );
}
