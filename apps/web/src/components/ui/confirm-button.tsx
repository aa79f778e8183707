'use client';
// A button for an action that cannot be undone (revoke a token, remove a pin, revoke a node): the
// first click asks, in a sentence, what will happen; only "confirm" acts, "Cancel" leaves things
// as they were.
import { useState, type ReactNode } from 'react';

export interface ConfirmButtonProps {
  /** The button's text, e.g. "Revoke". */
  label: string;
  /** What a screen reader says for the button, naming the thing, e.g. "Revoke API token ci". */
  ariaLabel: string;
  /** What will happen, in a sentence or two. */
  question: ReactNode;
  /** The confirming button's text, e.g. "Revoke token"; the dialog is named "Confirm: <this>". */
  confirmLabel: string;
  pending: boolean;
  disabled?: boolean;
  /** Runs the action; call `done` when it succeeded, to close the question. */
  onConfirm(done: () => void): void;
}

export function ConfirmButton({ label, ariaLabel, question, confirmLabel, pending, disabled, onConfirm }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="button button-small" aria-label={ariaLabel} disabled={disabled || pending} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <div className="alert alert-warn confirm" role="alertdialog" aria-label={`Confirm: ${confirmLabel}`}>
      <p>{question}</p>
      <div className="form-actions">
        <button type="button" className="button button-primary button-small" disabled={pending} onClick={() => onConfirm(() => setAsking(false))}>
          {pending ? 'Working…' : confirmLabel}
        </button>
        <button type="button" className="button button-quiet button-small" disabled={pending} onClick={() => setAsking(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}
