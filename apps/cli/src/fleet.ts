// Asking the Cider Fleet server about a registry's tag policy before a push. The server is named
// by --server or CIDER_SERVER; CIDER_TOKEN is an API token (Settings -> API tokens), read from the
// environment only so it stays out of shell history and process lists.
import { OciError } from '@cider/oci';

export interface TagPolicy {
  immutableTags: boolean;
  /** The registry's name in Cider Fleet, when the server knows it. */
  registry?: string;
}

export async function fetchTagPolicy(server: string, registryHost: string, token = process.env.CIDER_TOKEN): Promise<TagPolicy> {
  if (!token) {
    throw new OciError('UNAUTHORIZED', `To read the tag policy from ${server}, set CIDER_TOKEN to an API token (Cider Fleet -> Settings -> API tokens).`);
  }
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw new OciError('INVALID_REFERENCE', `--server ${server} is not a URL (e.g. https://cider.example.com)`);
  }
  const input = encodeURIComponent(JSON.stringify({ json: { host: registryHost } }));
  const url = new URL(`/api/trpc/registries.tagPolicy?input=${input}`, base);
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new OciError('UNREACHABLE', `Cannot reach Cider Fleet at ${base.origin} to read the tag policy (${error instanceof Error ? error.message : String(error)}). Nothing was pushed.`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new OciError('UNAUTHORIZED', `Cider Fleet at ${base.origin} refused CIDER_TOKEN (HTTP ${response.status}): it may be revoked or expired. Nothing was pushed.`);
  }
  const body = (await response.json().catch(() => undefined)) as { result?: { data?: { json?: { immutableTags?: unknown; registry?: { name?: unknown } | null } } } } | undefined;
  const data = body?.result?.data?.json;
  if (!response.ok || !data || typeof data.immutableTags !== 'boolean') {
    throw new OciError('REGISTRY_ERROR', `Cider Fleet at ${base.origin} did not answer the tag policy question (HTTP ${response.status}). Nothing was pushed.`);
  }
  return { immutableTags: data.immutableTags, ...(typeof data.registry?.name === 'string' ? { registry: data.registry.name } : {}) };
}
