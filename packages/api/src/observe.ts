// What the dashboard's metrics see of each procedure call. @cider/api stays free of any metrics
// library: apps/web passes in an observer that counts into prom-client. Paths are the router's
// own keys (a bounded set), never something a caller typed.
import type { TRPCError } from '@trpc/server';

export type ProcedureType = 'query' | 'mutation' | 'subscription';
/** How the call arrived: the dashboard's tRPC endpoint, or the REST API's caller over the same procedures. */
export type ProcedureVia = 'trpc' | 'rest';

export interface ProcedureCall {
  path: string;
  type: ProcedureType;
  via: ProcedureVia;
  /** The tRPC error code the caller got; undefined on success. */
  code: TRPCError['code'] | undefined;
  durationSeconds: number;
}

export interface ProcedureObserver {
  /** Called once per procedure call after it settled; must not throw (a throw is swallowed). */
  called(call: ProcedureCall): void;
}
