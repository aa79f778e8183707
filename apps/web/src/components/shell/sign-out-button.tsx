'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../trpc/react.ts';

export function SignOutButton() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({
      onSettled() {
        // Nothing of the previous session may linger for the next user of this tab: not the query
        // cache, not the router's cache of rendered pages. A full page load to /sign-in drops both
        // at once, and leaves no client navigation in flight (a soft replace plus refresh could
        // still be fetching when the next page load began, and fall back to a hard navigation
        // that aborted it).
        queryClient.clear();
        window.location.replace('/sign-in');
      },
    }),
  );
  return (
    <button type="button" className="button button-quiet" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
      Sign out
    </button>
  );
}
