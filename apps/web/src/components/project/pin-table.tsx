'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { shortDigest, timeAgo } from '../../lib/format.ts';
import { Token } from '../ui/token.tsx';
import { useTRPC, type RouterOutputs } from '../../trpc/react.ts';
import { ErrorAlert } from '../ui/error-alert.tsx';
import { StatusBadge } from '../ui/status-badge.tsx';
import { ConfirmButton } from '../ui/confirm-button.tsx';
import { DataTable } from '../ui/data-table.tsx';

type Pin = RouterOutputs['projects']['list'][number]['pins'][number];

/** `canEdit`: whether this user may remove pins here (the server checks again). */
export function PinTable({ pins, canEdit }: { pins: Pin[]; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const remove = useMutation(
    trpc.pins.remove.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() }),
    }),
  );

  if (pins.length === 0) return <p className="muted">Nothing pinned yet: pin a base image below and every node of this project will fetch it.</p>;
  return (
    <>
      <ErrorAlert error={remove.error} />
      <div className="table-scroll">
        <DataTable
          rows={pins}
          rowKey={(pin) => pin.id}
          rowAttributes={(pin) => ({ 'data-pin': pin.reference })}
          columns={[
            { header: 'Image', cell: (pin) => <Token value={pin.reference} kind="reference" /> },
            { header: 'Mode', cell: (pin) => <StatusBadge value={pin.mode} label={pin.mode === 'follow' ? 'follows tag' : 'frozen'} /> },
            {
              header: 'Digest',
              cell: (pin) => (
                <>
                  <Token value={pin.digest} kind="digest" />
                  {pin.driftDigest ? (
                    <span className="badge badge-warn" title={pin.driftDigest}>
                      tag moved to {shortDigest(pin.driftDigest)}
                    </span>
                  ) : null}
                </>
              ),
            },
            { header: 'Resolved', cell: (pin) => <span className="muted">{timeAgo(pin.resolvedAt)}</span> },
            {
              header: 'Actions',
              kind: 'actions',
              cell: (pin) =>
                canEdit ? (
                  <ConfirmButton
                    label="Remove"
                    ariaLabel={`Remove pin ${pin.reference}`}
                    question={`Remove ${pin.reference} from this project? Nodes stop fetching it; images they already hold stay until evicted.`}
                    confirmLabel="Remove pin"
                    pending={remove.isPending}
                    onConfirm={(done) => remove.mutate({ pinId: pin.id }, { onSuccess: done })}
                  />
                ) : null,
            },
          ]}
        />
      </div>
    </>
  );
}
