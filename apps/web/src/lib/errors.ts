import { TRPCClientError } from '@trpc/client';

/** A sentence for people: the API's own message, or a plain note when the server didn't answer. */
export function errorMessage(error: unknown): string {
  // Server answers carry `data`; a failed fetch (server down, network gone) does not.
  if (error instanceof TRPCClientError && error.data) return error.message || 'The server could not do this.';
  return 'Could not reach the dashboard server. Check your connection and try again.';
}
