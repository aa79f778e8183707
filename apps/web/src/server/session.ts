// The signed-in user for server components, read from the session cookie. `cache` makes the
// layout and page of one request share a single lookup.
import { sessionCookieName } from '@cider/api';
import { userForSession, type SessionUser } from '@cider/api/services';
import { cookies } from 'next/headers';
import { cache } from 'react';
import { services } from './services.ts';

export const currentUser = cache(async (): Promise<SessionUser | undefined> => {
  const token = (await cookies()).get(sessionCookieName)?.value;
  return userForSession(services().deps, token);
});
