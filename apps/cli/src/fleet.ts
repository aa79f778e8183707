// Talking to the Cider Fleet server: a typed tRPC client over the dashboard's own endpoint, so the
// CLI and the server share one definition of every call (AppRouter) instead of a hand-built wire
// envelope. The server is named by --server or CIDER_SERVER; CIDER_TOKEN is an API token
// (Settings -> API tokens), read from the environment only so it stays out of shell history and
// process lists.
import type { AppRouter } from '@cider/api';
import { OciError } from '@cider/oci';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';

export interface TagPolicy {
  immutableTags: boolean;
  /** The registry's name in Cider Fleet, when the server knows it. */
  registry?: string;
}

const requestTimeoutMs = 15_000;

/** A client for the server at `base`, authenticated with an API token. */
export function fleetClient(base: URL, token: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: new URL('/api/trpc', base).toString(),
        transformer: superjson,
        headers: { authorization: `Bearer ${token}` },
        fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) }),
      }),
    ],
  });
}

function serverUrl(server: string): URL {
  try {
    return new URL(server);
  } catch {
    throw new OciError('INVALID_REFERENCE', `--server ${server} is not a URL (e.g. https://cider.example.com)`);
  }
}

/** The HTTP status behind a tRPC client error, when the server answered at all. */
function httpStatus(error: TRPCClientError<AppRouter>): number | undefined {
  const response = (error.meta as { response?: { status?: number } } | undefined)?.response;
  return response?.status ?? error.data?.httpStatus;
}

export async function fetchTagPolicy(server: string, registryHost: string, token = process.env.CIDER_TOKEN): Promise<TagPolicy> {
  if (!token) {
    throw new OciError('UNAUTHORIZED', `To read the tag policy from ${server}, set CIDER_TOKEN to an API token (Cider Fleet -> Settings -> API tokens).`);
  }
  const base = serverUrl(server);
  try {
    const policy = await fleetClient(base, token).registries.tagPolicy.query({ host: registryHost });
    return { immutableTags: policy.immutableTags, ...(policy.registry ? { registry: policy.registry.name } : {}) };
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    const status = httpStatus(error);
    if (status === undefined) {
      throw new OciError('UNREACHABLE', `Cannot reach Cider Fleet at ${base.origin} to read the tag policy (${error.message}). Nothing was pushed.`);
    }
    if (status === 401 || status === 403) {
      throw new OciError('UNAUTHORIZED', `Cider Fleet at ${base.origin} refused CIDER_TOKEN (HTTP ${status}): it may be revoked or expired. Nothing was pushed.`);
    }
    throw new OciError('REGISTRY_ERROR', `Cider Fleet at ${base.origin} did not answer the tag policy question (HTTP ${status}: ${error.message}). Nothing was pushed.`);
  }
}
