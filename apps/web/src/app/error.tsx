'use client';
// A page that failed to render: a calm sentence and a retry, never a stack trace. When the
// failure was PostgreSQL or Redis being down, say which, and retry by itself.
import { ServiceUnavailable } from '../components/errors/service-unavailable.tsx';
import { unavailableService } from '../lib/unavailable.ts';

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const service = unavailableService(error.digest);
  if (service) return <ServiceUnavailable service={service} reset={reset} />;
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
