// The signed-in user for server components, read from the session cookie. `cache` makes the
// layout and page of one request share a single lookup. With PostgreSQL down the lookup fails
// within its connection timeout and the page shows "service unavailable" (see error.tsx).
import { sessionCookieName } from '@cider/api';
import { userForSession, type SessionUser } from '@cider/api/services';
import { cookies } from 'next/headers';
import { cache } from 'react';
import { services } from './services.ts';
import { orUnavailable } from './unavailable.ts';

export const currentUser = cache(async (): Promise<SessionUser | undefined> => {
  const token = (await cookies()).get(sessionCookieName)?.value;
  return orUnavailable(() => userForSession(services().deps, token));
});
