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
