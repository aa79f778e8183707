'use client';
import { useId, useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import type { RouterOutputs } from '../../trpc/react.ts';
import { JsonDiff } from './json-diff.tsx';

type AuditEvent = RouterOutputs['audit']['list']['events'][number];

export function AuditRow({ event }: { event: AuditEvent }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const hasDetails = event.before !== null || event.after !== null;
  return (
    <>
      <tr data-audit-action={event.action}>
        <td title={event.at.toLocaleString()}>
          <div>{event.at.toLocaleString()}</div>
          <div className="muted small">{timeAgo(event.at)}</div>
        </td>
        <td>{event.actor}</td>
        <td>
          <code>{event.action}</code>
        </td>
        <td>
          {event.targetType}
          {event.targetId ? <div className="muted small mono-id">{event.targetId}</div> : null}
        </td>
        <td className="actions">
          {hasDetails ? (
            <button
              type="button"
              className="button button-small"
              aria-expanded={open}
              aria-controls={`${id}-details`}
              aria-label={`${open ? 'Hide' : 'Show'} changes of ${event.action} at ${event.at.toLocaleString()}`}
              onClick={() => setOpen((o) => !o)}
            >
              {open ? 'Hide' : 'Changes'}
            </button>
          ) : null}
        </td>
      </tr>
      {open ? (
        <tr className="row-detail" id={`${id}-details`}>
          <td colSpan={5}>
            <JsonDiff before={event.before} after={event.after} />
          </td>
        </tr>
      ) : null}
    </>
  );
}
