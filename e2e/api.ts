// Setting up a spec's data through the real tRPC route with the browser's own session
// (page.request shares its cookies), when the journey under test is elsewhere: a call with no
// input is a GET query, one with input a POST.
import { expect, type APIRequestContext } from '@playwright/test';

type TrpcBody<T> = { result: { data: { json: T } } };

export async function trpc<T = unknown>(api: APIRequestContext, webUrl: string, path: string, input?: unknown): Promise<T> {
  const url = `${webUrl}/api/trpc/${path}`;
  const response = input === undefined ? await api.get(url) : await api.post(url, { data: { json: input } });
  expect(response.ok(), `${path}: ${await response.text()}`).toBe(true);
  return ((await response.json()) as TrpcBody<T>).result.data.json;
}
