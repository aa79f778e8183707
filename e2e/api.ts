// Setting up a spec's data through the real tRPC route with the browser's own session
// (page.request shares its cookies), when the journey under test is elsewhere.
import { expect, type APIRequestContext, type APIResponse } from '@playwright/test';

type TrpcBody<T> = { result: { data: { json: T } } };

async function unwrap<T>(path: string, response: APIResponse): Promise<T> {
  expect(response.ok(), `${path}: ${await response.text()}`).toBe(true);
  return ((await response.json()) as TrpcBody<T>).result.data.json;
}

/** A query: a GET, its input (if any) in the URL. */
export async function query<T = unknown>(api: APIRequestContext, webUrl: string, path: string, input?: unknown): Promise<T> {
  const search = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  return unwrap<T>(path, await api.get(`${webUrl}/api/trpc/${path}${search}`));
}

/** A mutation: a POST. */
export async function mutate<T = unknown>(api: APIRequestContext, webUrl: string, path: string, input: unknown): Promise<T> {
  return unwrap<T>(path, await api.post(`${webUrl}/api/trpc/${path}`, { data: { json: input } }));
}

/**
 * The stack's registry under its `localhost` name, as every spec that needs it connected shares
 * it (connected by the first to ask): thin-path.spec.ts connects `127.0.0.1:<port>` itself,
 * through the form, so that name must stay free.
 */
export function localRegistryHost(registryHost: string): string {
  return registryHost.replace(/^127\.0\.0\.1(?=:)/, 'localhost');
}

export async function connectLocalRegistry(api: APIRequestContext, stack: { webUrl: string; registryHost: string }): Promise<{ id: string; host: string }> {
  const host = localRegistryHost(stack.registryHost);
  const connected = (await query<{ id: string; host: string }[]>(api, stack.webUrl, 'registries.list')).find((r) => r.host === host);
  return connected ?? (await mutate<{ id: string; host: string }>(api, stack.webUrl, 'registries.create', { name: 'localhost', host, plainHttp: true, authKind: 'none' }));
}
