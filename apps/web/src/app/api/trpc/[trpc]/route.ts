// The tRPC endpoint: queries and mutations (batched POST/GET) and the live event stream (SSE).
import { appRouter, readCookie, serializeSessionCookie, sessionCookieName, type TrpcContext } from '@cider/api';
import { userForApiToken, userForSession } from '@cider/api/services';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { env } from '../../../../env.ts';
import { services } from '../../../../server/services.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

async function createContext(req: Request, resHeaders: Headers): Promise<TrpcContext> {
  const { deps, hub } = services();
  const sessionToken = readCookie(req.headers.get('cookie'), sessionCookieName);
  // Scripts and CI call the API with `Authorization: Bearer cat_...` (Settings -> API tokens).
  const apiToken = /^Bearer\s+(cat_\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
  return {
    deps,
    hub,
    user: apiToken ? await userForApiToken(deps, apiToken) : await userForSession(deps, sessionToken),
    sessionToken,
    userAgent: req.headers.get('user-agent') ?? undefined,
    setSessionCookie(token, expiresAt) {
      resHeaders.append('set-cookie', serializeSessionCookie(token, { expiresAt, secure: env().CIDER_SECURE_COOKIES }));
    },
  };
}

function handler(req: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: ({ req, resHeaders }) => createContext(req, resHeaders),
    onError({ error, path }) {
      // Expected failures (bad input, unreachable registry) already carry a message for the user;
      // only unexpected ones need the server log, with their cause.
      if (error.code === 'INTERNAL_SERVER_ERROR') console.error(`tRPC ${path ?? '?'} failed:`, error.cause ?? error);
    },
  });
}

export { handler as GET, handler as POST };
