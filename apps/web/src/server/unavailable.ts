// Server components that hit PostgreSQL or Redis: an outage becomes an error the error boundary
// recognises (its digest names the service), anything else is thrown as it was.
import { serviceOutage } from '@cider/api';
import { unavailableDigest, unavailableMessages } from '../lib/unavailable.ts';

export class ServiceUnavailablePage extends Error {
  override name = 'ServiceUnavailablePage';
  readonly digest: string;
  constructor(readonly service: 'database' | 'redis', options?: { cause?: unknown }) {
    super(unavailableMessages[service], options);
    this.digest = unavailableDigest(service);
  }
}

/** Runs `load`; an outage of PostgreSQL or Redis is rethrown as a ServiceUnavailablePage. */
export async function orUnavailable<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const outage = serviceOutage(error);
    if (outage) throw new ServiceUnavailablePage(outage.service, { cause: error });
    throw error;
  }
}
