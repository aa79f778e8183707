// The REST API's one error shape, and the one place anything thrown becomes it: AppErrors by
// code, tRPC errors by code (the procedures' own refusals), zod refusals with their fields,
// outages as 503 + Retry-After, anything else a logged 500 with no stack.
import { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { isAppError, type AppErrorCode } from '../errors.ts';
import { serviceOutage } from '../outage.ts';
import { RetryLaterError } from '../services/access/auth.ts';
import type { ErrorBody, ErrorCode } from './contract.ts';

export const statusOf: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  REGISTRY_AUTH: 422,
  REGISTRY_UNREACHABLE: 502,
  REGISTRY_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** A refusal the handler decides itself (bad path, stale If-Match, ...). */
export class RestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { fields?: Record<string, string[]>; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}

const fromTrpc: Partial<Record<TRPCError['code'], ErrorCode>> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

export function errorResponse(code: ErrorCode, message: string, extra: RestError['extra'] = {}): Response {
  const status = statusOf[code];
  const body: ErrorBody = { error: { code, message, status, ...(extra.fields ? { fields: extra.fields } : {}) } };
  const headers = new Headers({ 'cache-control': 'no-store', ...extra.headers });
  if (code === 'UNAUTHENTICATED') headers.set('www-authenticate', 'Bearer realm="cider-fleet"');
  return Response.json(body, { status, headers });
}

function fieldsOf(error: ZodError, prefix?: string): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const key = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix || 'input';
    (fields[key] ??= []).push(issue.message);
  }
  return fields;
}

export function zodRefusal(error: ZodError, where: 'path' | 'query' | 'body'): Response {
  const fields = fieldsOf(error);
  const said = Object.entries(fields).map(([k, v]) => `${k}: ${v.join(', ')}`).join('; ');
  return errorResponse('BAD_REQUEST', `The ${where === 'path' ? 'path' : where === 'query' ? 'query string' : 'request body'} was refused: ${said}.`, { fields });
}

/** Anything a REST operation threw, as the error answer; `log` gets only the unexpected ones. */
export function toErrorResponse(error: unknown, log: (error: unknown) => void): Response {
  if (error instanceof RestError) return errorResponse(error.code, error.message, error.extra);
  const cause = error instanceof TRPCError ? (error.cause ?? error) : error;
  if (cause instanceof RetryLaterError) return errorResponse('TOO_MANY_REQUESTS', cause.message, { headers: { 'retry-after': String(cause.retryAfterS) } });
  if (isAppError(cause)) return errorResponse(cause.code satisfies AppErrorCode, cause.message);
  if (cause instanceof ZodError) return errorResponse('BAD_REQUEST', cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '), { fields: fieldsOf(cause) });
  const outage = serviceOutage(cause);
  if (outage) return errorResponse('SERVICE_UNAVAILABLE', outage.message, { headers: { 'retry-after': '5' } });
  if (error instanceof TRPCError) {
    const code = fromTrpc[error.code];
    if (code === 'SERVICE_UNAVAILABLE') return errorResponse(code, error.message, { headers: { 'retry-after': '5' } });
    if (code) return errorResponse(code, error.message);
  }
  log(error);
  return errorResponse('INTERNAL', 'Something went wrong on the server; it has been logged.');
}

