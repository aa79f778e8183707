'use client';
// A page that failed to render: a calm sentence and a retry, never a stack trace.
export default function ErrorPage({ reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <main className="content">
      <h1>Something went wrong</h1>
      <p className="muted">The dashboard could not load this page. The details are in the server log.</p>
      <button type="button" className="button" onClick={reset}>
        Try again
      </button>
    </main>
  );
}
