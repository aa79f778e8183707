'use client';
// An admin who looked into a node that sent bad data to peers (its disk replaced, say) clears what
// the control plane raised, after a confirmation; other Macs may then read from it again. Kept
// outside the conditions it clears, so its answer stays once they are gone.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { useIsAdmin } from '../shell/session-user.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';

/** `raised`: the node has conditions the control plane raised (bad peer data) to clear. */
export function ClearConditions({ nodeId, nodeName, raised }: { nodeId: string; nodeName: string; raised: boolean }) {
  const isAdmin = useIsAdmin();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [message, setMessage] = useState<string>();
  const clear = useMutation(
    trpc.nodes.clearConditions.mutationOptions({
      onSuccess: (answer) => {
        setMessage(answer.message);
        void queryClient.invalidateQueries({ queryKey: trpc.nodes.pathKey() });
      },
    }),
  );
  if (!isAdmin || (!raised && !message && !clear.error)) return null;
  return (
    <div className="clear-conditions">
      {raised ? (
        <ConfirmButton
          label="Clear bad-peer-data conditions"
          ariaLabel={`Clear bad peer data conditions on ${nodeName}`}
          question={`Clear the bad-peer-data conditions on ${nodeName}? Other Macs may read images from its peer server again. Do this once its disk is checked or the Mac is replaced.`}
          confirmLabel="Clear conditions"
          pending={clear.isPending}
          onConfirm={(done) => clear.mutate({ nodeId }, { onSuccess: done })}
        />
      ) : null}
      <ErrorAlert error={clear.error} />
      {message ? (
        <p className="alert alert-ok" role="status">
          {message}
        </p>
      ) : null}
    </div>
  );
}
