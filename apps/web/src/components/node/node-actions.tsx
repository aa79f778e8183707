'use client';
// Admin actions on a node's identity: revoke it, rotate its secret, allow a replacement. Each asks
// for confirmation first (what it does, in a sentence) and shows the server's answer.
import { canManageNodes } from '@cider/api/permissions';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../../trpc/react.ts';
import { useSessionUser } from '../shell/session-user.tsx';
import { ErrorAlert } from '../ui/error-alert.tsx';

export interface NodeActionsNode {
  id: string;
  name: string;
  status: string;
  revokedAt: Date | null;
  replaceAllowedUntil: Date | null;
  secretRotationPending: boolean;
}

type Action = 'revoke' | 'rotate' | 'replace';

const explain: Record<Action, { button: string; confirm: (name: string) => string; go: string }> = {
  revoke: {
    button: 'Revoke',
    confirm: (name) => `Revoke ${name}? Its agent is disconnected now and can no longer connect; its open sync jobs are cancelled. Use this for a lost or compromised Mac.`,
    go: 'Revoke node',
  },
  rotate: {
    button: 'Rotate secret',
    confirm: (name) => `Send ${name} a new secret? Its agent stores it and reconnects; from then on the old secret is refused. The agent must be online.`,
    go: 'Rotate secret',
  },
  replace: {
    button: 'Allow replacement',
    confirm: (name) => `Allow a new enrollment as "${name}" for the next 24 hours? The Mac that enrolls under this name takes over the node (new secret and key) and the current agent is cut off.`,
    go: 'Allow replacement',
  },
};

export function NodeActions({ node }: { node: NodeActionsNode }) {
  const user = useSessionUser();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [pending, setPending] = useState<Action | undefined>();
  const [result, setResult] = useState<string | undefined>();
  const done = (answer: { message: string }) => {
    setResult(answer.message);
    setPending(undefined);
    void queryClient.invalidateQueries({ queryKey: trpc.nodes.pathKey() });
  };
  const revoke = useMutation(trpc.nodes.revoke.mutationOptions({ onSuccess: done }));
  const rotate = useMutation(trpc.nodes.rotateSecret.mutationOptions({ onSuccess: done }));
  const replace = useMutation(trpc.nodes.allowReplace.mutationOptions({ onSuccess: done }));
  const mutations = { revoke, rotate, replace };
  if (!canManageNodes(user)) return null;

  const revoked = node.revokedAt !== null;
  const available: Action[] = revoked ? ['replace'] : ['rotate', 'revoke', 'replace'];
  const busy = revoke.isPending || rotate.isPending || replace.isPending;
  const error = revoke.error ?? rotate.error ?? replace.error;
  const ask = (action: Action) => {
    for (const m of Object.values(mutations)) m.reset();
    setResult(undefined);
    setPending(action);
  };

  return (
    <section className="card" aria-labelledby="node-identity-title">
      <h2 id="node-identity-title">Identity</h2>
      <p className="muted small">
        {revoked ? `Revoked ${node.revokedAt!.toLocaleString()}. ` : null}
        {node.replaceAllowedUntil ? `A new enrollment as "${node.name}" replaces this node until ${node.replaceAllowedUntil.toLocaleString()}. ` : null}
        {node.secretRotationPending ? 'A new secret was sent; the agent switches to it when it reconnects.' : null}
      </p>
      <div className="form-actions">
        {available.map((action) => (
          <button key={action} type="button" className="button button-small" disabled={busy} onClick={() => ask(action)} aria-label={`${explain[action].button} ${node.name}`}>
            {explain[action].button}
          </button>
        ))}
      </div>
      {pending ? (
        <div className="alert alert-warn" role="alertdialog" aria-label={`Confirm: ${explain[pending].go}`}>
          <p>{explain[pending].confirm(node.name)}</p>
          <div className="form-actions">
            <button type="button" className="button button-primary button-small" disabled={busy} onClick={() => mutations[pending].mutate({ nodeId: node.id })}>
              {busy ? 'Working…' : explain[pending].go}
            </button>
            <button type="button" className="button button-quiet button-small" disabled={busy} onClick={() => setPending(undefined)}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      <ErrorAlert error={error} />
      {result ? (
        <p className="alert alert-ok" role="status">
          {result}
        </p>
      ) : null}
    </section>
  );
}
