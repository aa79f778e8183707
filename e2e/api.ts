// Setting up a spec's data through the real tRPC route, as the signed-in browser would (its
// session cookie, its Origin), when the journey under test is elsewhere and the form is not.
import type { Page } from '@playwright/test';

interface TrpcEnvelope<T> {
  result?: { data?: { json?: T } };
  error?: { json?: { message?: string } };
}

async function unwrap<T>(path: string, response: { ok(): boolean; status(): number; json(): Promise<unknown> }): Promise<T> {
  const body = (await response.json()) as TrpcEnvelope<T>;
  if (!response.ok() || body.error) throw new Error(`${path}: ${response.status()} ${body.error?.json?.message ?? ''}`);
  return body.result?.data?.json as T;
}

/** A tRPC mutation with the page's session. */
export async function mutate<T = unknown>(page: Page, webUrl: string, path: string, input: unknown): Promise<T> {
  const response = await page.request.post(`${webUrl}/api/trpc/${path}`, {
    headers: { 'content-type': 'application/json', origin: webUrl },
    data: JSON.stringify({ json: input }),
  });
  return unwrap<T>(path, response);
}

/** A tRPC query with the page's session. */
export async function query<T = unknown>(page: Page, webUrl: string, path: string, input?: unknown): Promise<T> {
  const search = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  return unwrap<T>(path, await page.request.get(`${webUrl}/api/trpc/${path}${search}`));
}
