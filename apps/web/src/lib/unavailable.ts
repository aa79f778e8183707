// A page that failed because PostgreSQL or Redis is down carries this digest through Next's error
// boundary (production builds replace error messages, but keep a digest the error already has),
// so the boundary can say which service is down instead of "something went wrong".
export type UnavailableService = 'database' | 'redis';

const prefix = 'cider-unavailable:';

export const unavailableMessages: Record<UnavailableService, string> = {
  database: 'The database is unreachable; the dashboard will work again when it is back.',
  redis: 'Redis (queues and live updates) is unreachable; the dashboard will work again when it is back.',
};

export function unavailableDigest(service: UnavailableService): string {
  return `${prefix}${service}`;
}

/** The service a digest names, or undefined for any other error. */
export function unavailableService(digest: string | undefined): UnavailableService | undefined {
  if (!digest?.startsWith(prefix)) return undefined;
  const service = digest.slice(prefix.length);
  return service === 'database' || service === 'redis' ? service : undefined;
}
