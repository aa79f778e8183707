'use client';
// One audit event as a reader wants it: when, who, what, the target by name, and what changed
// as "Field: before → after" lines (long ones folded after a few).
import { useId, useState } from 'react';
import { timeAgo } from '../../lib/format.ts';
import { targetTypeWords } from '../../lib/words.ts';
import type { RouterOutputs } from '../../trpc/react.ts';

type AuditEvent = RouterOutputs['audit']['list']['events'][number];
type Change = AuditEvent['changes'][number];

/** Lines shown before "Show all". */
const foldAfter = 4;

function ChangeLine({ change, isUpdate }: { change: Change; isUpdate: boolean }) {
  return (
    <li data-field={change.field}>
      <span className="change-field">{change.field}:</span>{' '}
      {change.before !== undefined && (change.after !== undefined || isUpdate) ? (
        <>
          <span className="change-before">{change.before}</span> → <span className="change-after">{change.after ?? 'removed'}</span>
        </>
      ) : (
        <span>{change.after ?? change.before}</span>
      )}
    </li>
  );
}

export function AuditRow({ event }: { event: AuditEvent }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const isUpdate = event.before !== null && event.after !== null;
  const shown = open ? event.changes : event.changes.slice(0, foldAfter);
  const when = event.at.toLocaleString();
  return (
    <tr data-audit-action={event.action} data-target={event.targetName ?? undefined}>
      <td title={when}>
        <div>{when}</div>
        <div className="muted small">{timeAgo(event.at)}</div>
      </td>
      <td className="nowrap">
        <code>{event.action}</code>
      </td>
      <td title={event.targetId ?? undefined} className="audit-target">
        {event.targetName ? <div className="strong">{event.targetName}</div> : <div className="muted">unnamed</div>}
        <div className="audit-target-type">{targetTypeWords(event.targetType)}</div>
      </td>
      <td>
        {event.changes.length === 0 ? (
          <span className="muted">—</span>
        ) : (
          <>
            <ul className="change-list" id={`${id}-changes`} aria-label={`Changes of ${event.action} at ${when}`}>
              {shown.map((change, i) => (
                <ChangeLine key={`${i} ${change.field}`} change={change} isUpdate={isUpdate} />
              ))}
            </ul>
            {event.changes.length > foldAfter ? (
              <button type="button" className="button button-small button-quiet" aria-expanded={open} aria-controls={`${id}-changes`} onClick={() => setOpen((o) => !o)}>
                {open ? 'Show fewer' : `Show all ${event.changes.length} changes`}
              </button>
            ) : null}
          </>
        )}
      </td>
      <td>{event.actor}</td>
    </tr>
  );
}
