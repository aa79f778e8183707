// `cider image push` asks the Cider Fleet server whether the target registry keeps its tags
// immutable, over the REST API v1 (GET /api/v1/tag-policy) with the same typed client as
// `cider fleet`. The server is named by --server or CIDER_SERVER; CIDER_TOKEN is an API token
// (Settings -> API tokens), read from the environment only so it stays out of shell history and
// process lists. Every failure stops the push: a policy we could not read is not a yes.
import { OciError } from '@cider/oci';
import { FleetClient } from './fleet/client.ts';
import { FleetError } from './fleet/errors.ts';

export interface TagPolicy {
  immutableTags: boolean;
  /** The registry's name in Cider Fleet, when the server knows it. */
  registry?: string;
}

const requestTimeoutMs = 15_000;

function serverUrl(server: string): URL {
  try {
    return new URL(server);
  } catch {
    throw new OciError('INVALID_REFERENCE', `--server ${server} is not a URL (e.g. https://cider.example.com)`);
  }
}

export async function fetchTagPolicy(server: string, registryHost: string, token = process.env.CIDER_TOKEN): Promise<TagPolicy> {
  if (!token) {
    throw new OciError('UNAUTHORIZED', `To read the tag policy from ${server}, set CIDER_TOKEN to an API token (Cider Fleet -> Settings -> API tokens).`);
  }
  const base = serverUrl(server);
  try {
    const client = new FleetClient({ server: base.toString(), token, tokenSource: 'CIDER_TOKEN', timeoutMs: requestTimeoutMs });
    const policy = await client.call('registries.tagPolicy', { query: { host: registryHost } });
    return { immutableTags: policy.immutableTags, ...(policy.registry ? { registry: policy.registry.name } : {}) };
  } catch (error) {
    if (!(error instanceof FleetError)) throw error;
    const status = error.status;
    if (status === undefined) {
      throw new OciError('UNREACHABLE', `Cannot reach Cider Fleet at ${base.origin} to read the tag policy (${error.message}). Nothing was pushed.`);
    }
    if (status === 401 || status === 403) {
      throw new OciError('UNAUTHORIZED', `Cider Fleet at ${base.origin} refused CIDER_TOKEN (HTTP ${status}): it may be revoked or expired. Nothing was pushed.`);
    }
    throw new OciError('REGISTRY_ERROR', `Cider Fleet at ${base.origin} did not answer the tag policy question (HTTP ${status}: ${error.message}). Nothing was pushed.`);
  }
}
