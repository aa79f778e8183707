// What the dashboard's metrics see of each procedure call. @cider/api stays free of any metrics
// library: apps/web passes in an observer that counts into prom-client. Paths are the router's
// own keys (a bounded set), never something a caller typed.
import type { TRPCError } from '@trpc/server';
import type { ErrorCode as RestErrorCode } from './rest/contract.ts';

export type ProcedureType = 'query' | 'mutation' | 'subscription';
/** How the call arrived: the dashboard's tRPC endpoint, or the REST API's caller over the same procedures. */
export type ProcedureVia = 'trpc' | 'rest';

export interface ProcedureCall {
  /** The procedure's path (for `rest`, the operation's id); for a call refused before any procedure ran, what the request named (a caller's text). */
  path: string;
  /** 'unknown' for a call refused before any procedure ran (no such procedure, no database for the session). */
  type: ProcedureType | 'unknown';
  via: ProcedureVia;
  /** The error code the caller got (tRPC's; the REST API's own for `rest`): a bounded set. Undefined on success. */
  code: TRPCError['code'] | RestErrorCode | undefined;
  /** Absent for a call refused before any procedure ran. */
  durationSeconds?: number;
}

export interface ProcedureObserver {
  /** Called once per procedure call after it settled; must not throw (a throw is swallowed). */
  called(call: ProcedureCall): void;
}
