'use client';
// "Service unavailable": which service is down, in a sentence, and a page that tries again by
// itself every few seconds, so it comes back without anyone reloading it.
import { useRouter } from 'next/navigation';
import { startTransition, useCallback, useEffect } from 'react';
import { unavailableMessages, type UnavailableService } from '../../lib/unavailable.ts';

const retryEveryMs = 5_000;

export function ServiceUnavailable({ service, reset }: { service: UnavailableService; reset: () => void }) {
  const router = useRouter();
  // A server component failed: refresh re-renders it on the server, reset clears the boundary.
  const retry = useCallback(() => {
    startTransition(() => {
      router.refresh();
      reset();
    });
  }, [router, reset]);
  useEffect(() => {
    const timer = setInterval(retry, retryEveryMs);
    return () => clearInterval(timer);
  }, [retry]);
  return (
    <main className="content" role="alert" data-unavailable={service}>
      <h1>Service unavailable</h1>
      <p>{unavailableMessages[service]}</p>
      <p className="muted">This page tries again every {retryEveryMs / 1000} seconds.</p>
      <button type="button" className="button" onClick={retry}>
        Try again now
      </button>
    </main>
  );
}
