import { errorMessage } from '../../lib/errors.ts';

/** A failed request, in words, next to the form that sent it. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="alert alert-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}
