// The tRPC endpoint as a fetch handler (Request in, Response out): guards first (cross-site
// requests, sign-in in batches, batch size), then tRPC with a context that knows who is calling,
// how (session or API token), from where, and over what. apps/web's route file only wires it to
// its environment; tests call it with Request objects.
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { TRPCError } from '@trpc/server';
import { readCookie, serializeSessionCookie, sessionCookieName } from '../cookies.ts';
import type { EventHub } from '../events.ts';
import type { ProcedureObserver } from '../observe.ts';
import { appRouter } from '../root.ts';
import { apiTokenSession } from '../services/access/api-tokens.ts';
import { RetryLaterError, userForSession, type AuthPolicy } from '../services/access/auth.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { toTrpcError, wasObserved, type TrpcContext } from '../trpc.ts';
import { clientAddress, isHttps } from './request-facts.ts';
import { boundedBody, refuseBatch, refuseCrossSite } from './request-guards.ts';

export const defaultMaxBatchSize = 20;

export interface TrpcHandlerOptions {
  /** Where the router is mounted, e.g. `/api/trpc`. */
  endpoint: string;
  /** The process's connections, looked up per request (web builds them lazily). */
  services(): { deps: ServiceDeps; hub: EventHub };
  /** Reverse proxies in front whose forwarding headers count (CIDER_TRUST_PROXY). */
  trustedProxyHops: number;
  /** CIDER_SECURE_COOKIES: mark the session cookie Secure even when the request looks like http. */
  forceSecureCookies: boolean;
  authPolicy?: AuthPolicy;
  maxBatchSize?: number;
  onError?(path: string | undefined, error: TRPCError): void;
  /** Told of every procedure call (web's /metrics). */
  observer?: ProcedureObserver;
}

async function createContext(options: TrpcHandlerOptions, req: Request, resHeaders: Headers): Promise<TrpcContext> {
  const { deps, hub } = options.services();
  const sessionToken = readCookie(req.headers.get('cookie'), sessionCookieName);
  // Scripts and CI call the API with `Authorization: Bearer cat_...` (Settings -> API tokens).
  const bearer = /^Bearer\s+(cat_\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
  const viaToken = bearer ? await apiTokenSession(deps, bearer) : undefined;
  const secure = options.forceSecureCookies || isHttps(req, options.trustedProxyHops);
  return {
    deps,
    hub,
    user: bearer ? viaToken?.user : await userForSession(deps, sessionToken),
    apiToken: viaToken?.apiToken,
    sessionToken,
    userAgent: req.headers.get('user-agent') ?? undefined,
    clientAddress: clientAddress(req, options.trustedProxyHops),
    authPolicy: options.authPolicy,
    ...(options.observer ? { observer: options.observer, via: 'trpc' as const } : {}),
    setSessionCookie(token, expiresAt) {
      resHeaders.append('set-cookie', serializeSessionCookie(token, { expiresAt, secure }));
    },
  };
}

/** Seconds to wait, when any error of the response is a "try again later". */
function retryAfter(errors: readonly TRPCError[]): number | undefined {
  const waits = errors.map((error) => (error.cause instanceof RetryLaterError ? error.cause.retryAfterS : error.code === 'SERVICE_UNAVAILABLE' ? 5 : 0)).filter((s) => s > 0);
  return waits.length ? Math.max(...waits) : undefined;
}

export function createTrpcHandler(options: TrpcHandlerOptions): (req: Request) => Promise<Response> {
  const maxBatchSize = options.maxBatchSize ?? defaultMaxBatchSize;
  return async (req) => {
    const refusal = refuseCrossSite(req) ?? refuseBatch(req, options.endpoint, maxBatchSize);
    if (refusal) return refusal;
    const bounded = await boundedBody(req);
    if (bounded instanceof Response) return bounded;
    return fetchRequestHandler({
      endpoint: options.endpoint,
      req: bounded,
      router: appRouter,
      maxBatchSize,
      // Looking up the caller needs PostgreSQL: when it is down, a 503 that says so (not a 500 quoting Prisma).
      createContext: ({ req, resHeaders }) => createContext(options, req, resHeaders).catch((error: unknown) => Promise.reject(toTrpcError(error))),
      responseMeta({ errors }) {
        const seconds = retryAfter(errors);
        return seconds ? { headers: new Headers({ 'retry-after': String(seconds) }) } : {};
      },
      onError({ error, path, type }) {
        options.onError?.(path, error);
        // Calls refused before any procedure ran (no such procedure, the session's lookup failed)
        // never reached mapErrors: the observer hears of them here, and only of them.
        if (options.observer && !wasObserved(error)) {
          try {
            options.observer.called({ path: path ?? '', type, via: 'trpc', code: error.code });
          } catch {
            // As in mapErrors: metrics never fail a request.
          }
        }
      },
    });
  };
}
