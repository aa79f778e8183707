// REST API v1 as a fetch handler (Request in, Response out), made from the contract: the path
// picks an operation, its schemas parse params/query/body, the operation runs (through the tRPC
// procedure where one exists, so role rules, audit records and change events are the same code
// as the dashboard's), and the answer is parsed with the operation's response schema before it
// is sent. API tokens only: no session cookie is read, so there is no CSRF surface.
import type { z } from 'zod';
import type { EventHub } from '../events.ts';
import { apiTokenSession } from '../services/access/api-tokens.ts';
import type { AuthPolicy } from '../services/access/auth.ts';
import type { ServiceDeps } from '../services/deps.ts';
import type { ProcedureObserver } from '../observe.ts';
import { clientAddress } from '../http/request-facts.ts';
import { boundedBody } from '../http/request-guards.ts';
import { errorCodes, operations, type ErrorCode, type Operation, type OperationId } from './contract.ts';
import { errorResponse, toErrorResponse, zodRefusal } from './errors.ts';
import { implementations, type RestContext } from './operations.ts';
import { buildOpenApiDocument } from './openapi.ts';

export interface RestHandlerOptions {
  /** Where the API is mounted, e.g. `/api/v1`. */
  basePath: string;
  services(): { deps: ServiceDeps; hub: EventHub };
  trustedProxyHops: number;
  authPolicy?: AuthPolicy;
  /** Unexpected failures (500s), for the server log. */
  onError?(operation: string, error: unknown): void;
  /**
   * Told of every request that named an operation, as `via: 'rest'` with the operation's id and the
   * answer's error code (web's metrics). The procedures it calls are not observed again.
   */
  observer?: ProcedureObserver;
}

interface Route {
  id: OperationId;
  op: Operation;
  pattern: RegExp;
  names: string[];
}

const routes: Route[] = Object.entries(operations).map(([id, op]) => {
  const names: string[] = [];
  // Paths hold only letters, '-', '/' and `{name}` placeholders: nothing to escape.
  const source = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { id: id as OperationId, op, pattern: new RegExp(`^${source}/?$`), names };
});

/** The operation a path and method name, or why none does (404, or 405 with the allowed methods). */
function match(path: string, method: string): { route: Route; params: Record<string, string> } | { allow: string[] } | undefined {
  const allow: string[] = [];
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.op.method !== method) {
      allow.push(route.op.method);
      continue;
    }
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]!);
    });
    return { route, params };
  }
  return allow.length ? { allow } : undefined;
}

/** JSON as the document says it: Dates as RFC 3339, bigints as numbers. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));
}

function queryObject(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = value;
  return query;
}

const knownCodes: ReadonlySet<string> = new Set<string>(errorCodes);

/** The error code of a refusal (our one error shape), for the observer; bodies are small and errors rare. */
async function errorCodeOf(res: Response): Promise<ErrorCode> {
  try {
    const code = ((await res.clone().json()) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && knownCodes.has(code) ? (code as ErrorCode) : 'INTERNAL';
  } catch {
    return 'INTERNAL';
  }
}

export function createRestHandler(options: RestHandlerOptions): (req: Request) => Promise<Response> {
  const handle = createUnobservedHandler(options);
  const observer = options.observer;
  if (!observer) return (req) => handle(req).then(({ res }) => res);
  return async (req) => {
    const started = performance.now();
    const { res, opId } = await handle(req);
    if (opId) {
      try {
        const code = res.ok ? undefined : await errorCodeOf(res);
        observer.called({ path: opId, type: req.method.toUpperCase() === 'GET' || req.method.toUpperCase() === 'HEAD' ? 'query' : 'mutation', via: 'rest', code, durationSeconds: (performance.now() - started) / 1000 });
      } catch {
        // Metrics are a side show: never let them fail an answer.
      }
    }
    return res;
  };
}

function createUnobservedHandler(options: RestHandlerOptions): (req: Request) => Promise<{ res: Response; opId: OperationId | undefined }> {
  const base = options.basePath.replace(/\/+$/, '');
  let document: unknown;
  return async (req) => {
    const state: { opId: OperationId | undefined } = { opId: undefined };
    const res = await answer(req, state);
    return { res, opId: state.opId };
  };

  async function answer(req: Request, state: { opId: OperationId | undefined }): Promise<Response> {
    let opId = '?';
    try {
      const url = new URL(req.url);
      if (!url.pathname.startsWith(base)) return errorResponse('NOT_FOUND', `No such API path: ${url.pathname}.`);
      const path = url.pathname.slice(base.length) || '/';
      const method = req.method.toUpperCase() === 'HEAD' ? 'GET' : req.method.toUpperCase();
      if (path === '/openapi.json') {
        if (method !== 'GET') return errorResponse('METHOD_NOT_ALLOWED', 'openapi.json is read with GET.', { headers: { allow: 'GET' } });
        document ??= buildOpenApiDocument({ serverUrl: base });
        return Response.json(document, { headers: { 'cache-control': 'no-cache' } });
      }
      let found;
      try {
        found = match(path, method);
      } catch {
        return errorResponse('BAD_REQUEST', 'The path is not valid URL encoding.');
      }
      if (!found) return errorResponse('NOT_FOUND', `No such API path: ${path}. The operations are listed at ${base}/openapi.json.`);
      if ('allow' in found) {
        return errorResponse('METHOD_NOT_ALLOWED', `${path} takes ${found.allow.join(', ')}, not ${req.method}.`, { headers: { allow: found.allow.join(', ') } });
      }
      const { route, params } = found;
      opId = route.id;
      state.opId = route.id;

      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
      if (!bearer) return errorResponse('UNAUTHENTICATED', 'Send an API token: `Authorization: Bearer cat_...` (create one under Settings -> API tokens).');
      const { deps, hub } = options.services();
      const session = await apiTokenSession(deps, bearer);
      if (!session) return errorResponse('UNAUTHENTICATED', 'This API token is unknown, revoked or expired, or its user is disabled. Create a new one under Settings -> API tokens.');

      const op = route.op;
      // The contract's role rule, before anything is looked up (so a refused caller learns nothing
      // about what exists); the procedure checks again, with the team rule for `member*`.
      const roles = op.roles as readonly string[];
      const role = session.user.role;
      if (!roles.includes(role) && !(role === 'member' && roles.includes('member*'))) {
        return errorResponse('FORBIDDEN', `${op.method} ${op.path} is for ${roles.map((r) => (r === 'member*' ? "members of the owning team" : `${r}s`)).join(' and ')}; this token acts as ${session.user.email}, a ${role}.`);
      }
      const parsedParams = op.params ? op.params.safeParse(params) : { success: true as const, data: undefined };
      if (!parsedParams.success) return zodRefusal(parsedParams.error, 'path');
      const parsedQuery = op.query ? op.query.safeParse(queryObject(url)) : { success: true as const, data: undefined };
      if (!parsedQuery.success) return zodRefusal(parsedQuery.error, 'query');

      let body: unknown;
      if (op.body) {
        const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') return errorResponse('UNSUPPORTED_MEDIA_TYPE', `Send the body as JSON (Content-Type: application/json), not ${type || 'no content type'}.`);
        const bounded = await boundedBody(req);
        if (bounded instanceof Response) return errorResponse('PAYLOAD_TOO_LARGE', 'Request bodies are limited to 1024 KiB.');
        let raw: unknown;
        try {
          raw = JSON.parse(await bounded.text());
        } catch {
          return errorResponse('BAD_REQUEST', 'The request body is not valid JSON.');
        }
        const parsedBody = op.body.safeParse(raw);
        if (!parsedBody.success) return zodRefusal(parsedBody.error, 'body');
        body = parsedBody.data;
      }

      const ctx: RestContext = {
        deps,
        hub,
        user: session.user,
        apiToken: session.apiToken,
        userAgent: req.headers.get('user-agent') ?? undefined,
        clientAddress: clientAddress(req, options.trustedProxyHops),
        authPolicy: options.authPolicy,
        ifMatch: req.headers.get('if-match') ?? undefined,
        ifNoneMatch: req.headers.get('if-none-match') ?? undefined,
        url,
      };
      const implementation = implementations[route.id] as (ctx: RestContext, input: { params: unknown; query: unknown; body: unknown }) => Promise<unknown>;
      const result = await implementation(ctx, { params: parsedParams.data, query: parsedQuery.data, body });
      const headers = new Headers({ 'cache-control': 'no-store' });
      if (op.status === 204 || !('response' in op) || !op.response) return new Response(null, { status: 204, headers });
      // A response that does not fit its schema is our bug, not the caller's: a logged 500, never a 400.
      const checked = (op.response as z.ZodType).safeParse(toJson(result));
      if (!checked.success) throw new Error(`${route.id}: response does not match the contract: ${checked.error.message}`);
      const output = checked.data;
      if (op.etag && output && typeof output === 'object' && 'etag' in output) headers.set('etag', String(output.etag));
      const next = output && typeof output === 'object' && 'nextCursor' in output ? output.nextCursor : undefined;
      if (typeof next === 'string') {
        const link = new URL(url);
        link.searchParams.set('cursor', next);
        headers.set('link', `<${link.pathname}${link.search}>; rel="next"`);
      }
      if (req.method.toUpperCase() === 'HEAD') return new Response(null, { status: op.status, headers });
      return Response.json(output, { status: op.status, headers });
    } catch (error) {
      return toErrorResponse(error, (e) => options.onError?.(opId, e));
    }
  }
}
