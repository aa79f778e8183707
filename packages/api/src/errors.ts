// One application error with a code enum; routers and the ws gateway map codes to their
// transport (tRPC codes, HTTP statuses, close codes) in one place each.

export type AppErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'TOO_MANY_REQUESTS'
  | 'REGISTRY_UNREACHABLE'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_ERROR'
  | 'INTERNAL';

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
