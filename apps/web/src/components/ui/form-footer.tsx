// The end of every form: what went wrong, what went right, then the buttons. `children` sits
// between the messages and the buttons (a secret shown once, say); `before` and `after` add
// buttons around the submit button.
import type { ReactNode } from 'react';
import { ErrorAlert } from './error-alert.tsx';

export interface SubmitButton {
  label: string;
  /** Shown while the mutation runs, e.g. "Creating…". */
  pendingLabel: string;
  pending: boolean;
  disabled?: boolean;
  small?: boolean;
}

export function FormFooter({ error, status, submit, before, after, children }: { error?: unknown; status?: string | null; submit: SubmitButton; before?: ReactNode; after?: ReactNode; children?: ReactNode }) {
  return (
    <>
      <ErrorAlert error={error} />
      {status ? (
        <p className="alert alert-ok" role="status">
          {status}
        </p>
      ) : null}
      {children}
      <div className="form-actions">
        {before}
        <button type="submit" className={submit.small ? 'button button-primary button-small' : 'button button-primary'} disabled={submit.pending || submit.disabled}>
          {submit.pending ? submit.pendingLabel : submit.label}
        </button>
        {after}
      </div>
    </>
  );
}
