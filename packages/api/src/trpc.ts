// tRPC setup: context, procedures that narrow the session, and the one place AppError codes
// become tRPC errors. Messages are written for people; stacks never leave the server.
import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { AppError, isAppError, type AppErrorCode } from './errors.ts';
import type { EventHub } from './events.ts';
import type { ProcedureObserver, ProcedureVia } from './observe.ts';
import { serviceOutage } from './outage.ts';
import type { ApiTokenIdentity } from './services/access/api-tokens.ts';
import type { AuthPolicy, SessionUser } from './services/access/auth.ts';
import type { Actor, ServiceDeps } from './services/deps.ts';

export interface TrpcContext {
  deps: ServiceDeps;
  hub: EventHub;
  user: SessionUser | undefined;
  sessionToken: string | undefined;
  userAgent: string | undefined;
  /** Sets or clears the session cookie on the response. */
  setSessionCookie(token: string | null, expiresAt?: Date): void;
  /** Set when the request authenticated with an API token instead of a session. */
  apiToken?: ApiTokenIdentity;
  /** The caller's address as the HTTP layer could tell it (sign-in throttling). */
  clientAddress?: string;
  /** The deployment's sign-in and API token rules; defaults when absent (tests shorten them). */
  authPolicy?: AuthPolicy;
  /** Told of every procedure call (web's /metrics); absent in tests and scripts. */
  observer?: ProcedureObserver;
  /** How the call arrived, for the observer (default trpc). */
  via?: ProcedureVia;
}

const trpcCodes: Record<AppErrorCode, TRPCError['code']> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHENTICATED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  REGISTRY_UNREACHABLE: 'BAD_GATEWAY',
  REGISTRY_AUTH: 'UNPROCESSABLE_CONTENT',
  REGISTRY_ERROR: 'BAD_GATEWAY',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

export function toTrpcError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  // Input that failed validation is the caller's mistake, said in sentences by the formatter.
  if (error instanceof ZodError) return new TRPCError({ code: 'BAD_REQUEST', message: error.issues.map((i) => i.message).join('; '), cause: error });
  if (isAppError(error)) return new TRPCError({ code: trpcCodes[error.code], message: error.message, cause: error });
  // PostgreSQL or Redis down: a 503 that says which, rather than a 500 (or a hang).
  const outage = serviceOutage(error);
  if (outage) return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: outage.message, cause: error });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong on the server; it has been logged.', cause: error as Error });
}

const t = initTRPC.context<TrpcContext>().create({
  transformer: superjson,
  isDev: false,
  // Keep-alive pings on the event stream, so proxies with idle timeouts don't cut it.
  sse: { ping: { enabled: true, intervalMs: 15_000 }, client: { reconnectAfterInactivityMs: 40_000 } },
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const appCode = isAppError(cause) ? cause.code : undefined;
    const fieldErrors = cause instanceof ZodError ? z.flattenError(cause).fieldErrors : undefined;
    // Input validation failures read as sentences, not JSON.
    const message = cause instanceof ZodError ? cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') : shape.message;
    return { ...shape, message, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, appCode, fieldErrors } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Errors the observer was told of by mapErrors; the HTTP handler tells it of the others (refused before any procedure ran). */
const observedErrors = new WeakSet<TRPCError>();

export function wasObserved(error: TRPCError): boolean {
  return observedErrors.has(error);
}

/** Tells the context's observer how a call went; an observer's failure never fails the call. */
function observe(ctx: TrpcContext, call: { path: string; type: 'query' | 'mutation' | 'subscription'; started: number; error?: TRPCError }): void {
  if (!ctx.observer) return;
  try {
    const durationSeconds = (performance.now() - call.started) / 1000;
    ctx.observer.called({ path: call.path, type: call.type, via: ctx.via ?? 'trpc', code: call.error?.code, durationSeconds });
  } catch {
    // Metrics are a side show: a broken observer must not turn a good answer into an error.
  }
}

/**
 * Runs a service call and maps its AppErrors; a successful change is announced to open pages.
 * First in every chain, so it sees (and the observer counts) every call: refused sign-ins and
 * invalid input included.
 */
const mapErrors = t.middleware(async ({ ctx, next, type, path }) => {
  const started = performance.now();
  const result = await next();
  if (!result.ok) {
    const error = toTrpcError(result.error.cause ?? result.error);
    observe(ctx, { path, type, started, error });
    observedErrors.add(error);
    throw error;
  }
  observe(ctx, { path, type, started });
  if (type === 'mutation' && !path.startsWith('auth.')) {
    // Fire-and-forget: the change is committed; publish never throws and gives up within a second.
    void ctx.deps.events.publish({ type: 'data.changed', path });
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in first.' });
  const actor: Actor = { userId: ctx.user.id, label: ctx.user.email };
  return next({ ctx: { ...ctx, user: ctx.user, actor } });
});

export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'Only admins can do this.' });
  return next();
});

export { canEditTeam } from './permissions.ts';

export function forbidden(message: string): AppError {
  return new AppError('FORBIDDEN', message);
}
