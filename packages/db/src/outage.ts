// Telling "PostgreSQL is down or too slow" apart from "this query is wrong": the first is a
// service outage (503, wait and retry), the second a bug or bad input.

export type DatabaseOutage = 'unreachable' | 'timeout';

/** Prisma's codes for a server it cannot reach or that dropped the connection (P2024: no pool connection in time). */
const prismaCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** @prisma/adapter-pg's kinds for the same. */
const adapterKinds = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** Socket errors node-postgres passes through from the OS. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** node-postgres's own messages when a connection fails or drops (it sets no code on them). */
const driverMessages = [
  'Connection terminated', // unexpectedly, or due to connection timeout
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  "Can't reach database server",
];

/**
 * SQLSTATEs: class 08 (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect
 * now), 53300 (too many connections): the server is not serving. 57014: a statement timed out.
 */
function sqlState(code: string): DatabaseOutage | undefined {
  if (code === '57014') return 'timeout';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return 'unreachable';
  return undefined;
}

function classifyOne(error: Record<string, unknown>): DatabaseOutage | undefined {
  const code = typeof error.code === 'string' ? error.code : undefined;
  if (code && prismaCodes.has(code)) return 'unreachable';
  if (code && socketCodes.has(code)) return 'unreachable';
  if (code && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('P')) {
    const state = sqlState(code);
    if (state) return state;
  }
  // Prisma wraps the adapter's error in `meta.driverAdapterError.cause` (raw queries come as P2010).
  const adapterCause = (error.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined)?.driverAdapterError?.cause;
  if (adapterCause) {
    if (typeof adapterCause.kind === 'string' && adapterKinds.has(adapterCause.kind)) return 'unreachable';
    const original = adapterCause.originalCode ?? adapterCause.code;
    if (typeof original === 'string') {
      const state = sqlState(original);
      if (state) return state;
    }
  }
  const message = typeof error.message === 'string' ? error.message : '';
  if (driverMessages.some((m) => message.includes(m))) return 'unreachable';
  return undefined;
}

/** Whether `error` (or an error it wraps) says the database is unreachable or timed out; undefined for any other error. */
export function databaseOutage(error: unknown): DatabaseOutage | undefined {
  let current: unknown = error;
  // Errors wrap errors (tRPC -> Prisma -> driver); a few levels are plenty, and a cycle stops here.
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const found = classifyOne(current as Record<string, unknown>);
    if (found) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
