import { ErrorAlert } from './error-alert.tsx';

/** What a table shows before its data arrives: a quiet loading line, or why it failed. */
export function QueryState({ isPending, error, what }: { isPending: boolean; error: unknown; what: string }) {
  if (error) return <ErrorAlert error={error} />;
  if (isPending) return <p className="muted">Loading {what}…</p>;
  return null;
}
