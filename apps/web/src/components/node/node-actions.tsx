'use client';
// Admin actions on a node's identity: revoke it, rotate its secret, allow a replacement, or
// decommission it (a Mac retired from the fleet), choosing whether its cache is purged. Each asks
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
  decommissionedAt: Date | null;
  replaceAllowedUntil: Date | null;
  secretRotationPending: boolean;
}

type Action = 'revoke' | 'rotate' | 'replace' | 'decommission';

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
  decommission: {
    button: 'Decommission',
    confirm: (name) =>
      `Decommission ${name}? It is revoked (its agent is disconnected and can no longer connect, its open sync jobs are cancelled) and leaves the fleet's counts and lists. Use this for a Mac retired from the fleet.`,
    go: 'Decommission node',
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
  const [purgeCache, setPurgeCache] = useState(false);
  const done = (answer: { message: string }) => {
    setResult(answer.message);
    setPending(undefined);
    void queryClient.invalidateQueries({ queryKey: trpc.nodes.pathKey() });
  };
  const revoke = useMutation(trpc.nodes.revoke.mutationOptions({ onSuccess: done }));
  const rotate = useMutation(trpc.nodes.rotateSecret.mutationOptions({ onSuccess: done }));
  const replace = useMutation(trpc.nodes.allowReplace.mutationOptions({ onSuccess: done }));
  const decommission = useMutation(trpc.nodes.decommission.mutationOptions({ onSuccess: done }));
  const mutations = { revoke, rotate, replace, decommission };
  if (!canManageNodes(user)) return null;

  const revoked = node.revokedAt !== null;
  const decommissioned = node.decommissionedAt !== null;
  const available: Action[] = decommissioned ? ['replace'] : revoked ? ['replace', 'decommission'] : ['rotate', 'revoke', 'replace', 'decommission'];
  const busy = revoke.isPending || rotate.isPending || replace.isPending || decommission.isPending;
  const error = revoke.error ?? rotate.error ?? replace.error ?? decommission.error;
  const go = (action: Action) => (action === 'decommission' ? decommission.mutate({ nodeId: node.id, purgeCache }) : mutations[action].mutate({ nodeId: node.id }));
  const ask = (action: Action) => {
    for (const m of Object.values(mutations)) m.reset();
    setResult(undefined);
    setPurgeCache(false);
    setPending(action);
  };

  return (
    <section className="card" aria-labelledby="node-identity-title">
      <h2 id="node-identity-title">Identity</h2>
      <p className="muted small">
        {decommissioned ? `Decommissioned ${node.decommissionedAt!.toLocaleString()}: not counted in the fleet. ` : revoked ? `Revoked ${node.revokedAt!.toLocaleString()}. ` : null}
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
          {pending === 'decommission' ? (
            <fieldset className="decommission-choice">
              <legend>The images in its cache</legend>
              <label className="checkbox">
                <input type="radio" name="purge-cache" checked={!purgeCache} onChange={() => setPurgeCache(false)} />
                Keep them on the Mac
              </label>
              <label className="checkbox">
                <input type="radio" name="purge-cache" checked={purgeCache} onChange={() => setPurgeCache(true)} />
                Purge the cache: the agent deletes every image, pinned or not {node.status === 'online' ? '' : '(only possible while its agent is online; it is not)'}
              </label>
            </fieldset>
          ) : null}
          <div className="form-actions">
            <button type="button" className="button button-primary button-small" disabled={busy} onClick={() => go(pending)}>
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
