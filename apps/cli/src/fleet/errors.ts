// `cider fleet`'s errors and exit codes. Pipelines branch on the exit code (and, with --json, on
// `error.code`, which is the API's stable code when the server answered); people read the message.
import type { ErrorCode } from '@cider/api';

/** Exit codes of every `cider fleet` command (README: "cider fleet"). */
export const exitCodes = {
  ok: 0,
  /** Anything else: the server unreachable or failing, a missing project, a conflict. */
  error: 1,
  /** The command line or the request was refused as input (fix the command). */
  badInput: 2,
  /** No token, a refused (revoked, expired) token, or a role that may not do this. */
  auth: 3,
  /** --wait: some node failed to fetch a pinned image. */
  rolloutFailed: 4,
  /** --wait: the rollout had not converged within --timeout. */
  timeout: 5,
} as const;

export type FleetErrorCode = ErrorCode | 'UNREACHABLE' | 'TIMEOUT' | 'NO_SERVER' | 'NO_TOKEN' | 'BAD_RESPONSE' | 'USAGE' | 'ROLLOUT_FAILED' | 'WAIT_TIMEOUT';

const exitFor: Partial<Record<FleetErrorCode, number>> = {
  BAD_REQUEST: exitCodes.badInput,
  USAGE: exitCodes.badInput,
  NO_SERVER: exitCodes.badInput,
  UNAUTHENTICATED: exitCodes.auth,
  FORBIDDEN: exitCodes.auth,
  NO_TOKEN: exitCodes.auth,
  ROLLOUT_FAILED: exitCodes.rolloutFailed,
  WAIT_TIMEOUT: exitCodes.timeout,
};

export class FleetError extends Error {
  override name = 'FleetError';
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    /** The HTTP status when the server answered. */
    readonly status?: number,
    /** Extra machine-readable detail for --json (e.g. the failures of a rollout). */
    readonly detail?: unknown,
  ) {
    super(message);
  }
  get exitCode(): number {
    return exitFor[this.code] ?? exitCodes.error;
  }
}

/** Prints a clean error (never a stack) and exits with the error's documented code. */
export function failFleet(error: unknown, json: boolean): never {
  const fleet = error instanceof FleetError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const code = fleet?.code ?? 'ERROR';
  if (json) {
    const body = { error: { code, message, ...(fleet?.status ? { status: fleet.status } : {}), ...(fleet?.detail ? { detail: fleet.detail } : {}) } };
    process.stdout.write(`${JSON.stringify(body)}\n`);
  } else {
    process.stderr.write(`cider: ${message}\n`);
  }
  process.exit(fleet?.exitCode ?? exitCodes.error);
}
