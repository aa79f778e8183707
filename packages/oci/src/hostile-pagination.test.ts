// Tag, catalog and referrers pagination against registries whose Link headers never end, loop,
// or point elsewhere (issue 9, item 5: "every loop over remote data has a cap"). The limits live
// in ./registry/paginate.ts; listTags and the dashboard's catalog both go through it.
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OciError } from './errors.ts';
import { RegistryClient } from './registry/client.ts';
import { sendEndlessBody, startHostileRegistry, type HostileRegistry } from '../testing/index.ts';

async function failure(promise: Promise<unknown>): Promise<OciError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OciError);
  return error as OciError;
}

function page(res: ServerResponse, body: unknown, link?: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (link) headers.link = link;
  res.writeHead(200, headers).end(JSON.stringify(body));
}

describe('pagination against hostile registries', () => {
  let registry: HostileRegistry;
  let other: HostileRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startHostileRegistry();
    other = await startHostileRegistry();
  });
  afterAll(async () => {
    await registry.close();
    await other.close();
  });
  beforeEach(() => {
    registry.requests.length = 0;
    other.requests.length = 0;
    client = new RegistryClient({ retry: { retries: 0, baseDelayMs: 10, maxDelayMs: 10 } });
  });
  afterEach(async () => {
    await client.close();
  });

  const pageNumber = (url: string | undefined) => Number(new URL(url ?? '/', 'http://x').searchParams.get('page') ?? '1');

  it('stops an endless chain of Link headers at 1,000 pages with a clear error', async () => {
    registry.handle = (req, res) => {
      const n = pageNumber(req.url);
      page(res, { name: 'demo', tags: [`t${n}`] }, `</v2/demo/tags/list?page=${n + 1}>; rel="next"`);
    };
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} sent more than 1000 pages (an endless chain of Link headers?) while listing the tags of demo; stopped.`);
    expect(registry.requests).toHaveLength(1000);
  });

  it('refuses more than 100,000 tags instead of growing without end', async () => {
    registry.handle = (req, res) => {
      const n = pageNumber(req.url);
      page(res, { name: 'demo', tags: Array.from({ length: 1000 }, (_, i) => `p${n}-${i}`) }, `</v2/demo/tags/list?page=${n + 1}>; rel="next"`);
    };
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} lists more than 100000 tags for demo; stopped reading there. Raise the limit if this repository really holds that many.`);
    expect(registry.requests).toHaveLength(101);
  });

  it('stops a Link loop at the first page it would read twice', async () => {
    registry.handle = (req, res) => {
      const n = pageNumber(req.url);
      page(res, { name: 'demo', tags: [`t${n}`] }, n === 1 ? '</v2/demo/tags/list?page=2>; rel="next"' : '</v2/demo/tags/list>; rel="next"');
    };
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} sent a Link back to a page already read (/v2/demo/tags/list): its pagination loops while listing the tags of demo; stopped.`);
    expect(registry.requests.map((r) => r.path)).toEqual(['/v2/demo/tags/list', '/v2/demo/tags/list?page=2']);
  });

  it('stops a loop that comes back under another URL: a page of entries already read', async () => {
    registry.handle = (req, res) => {
      const n = pageNumber(req.url);
      page(res, { name: 'demo', tags: [`t${n}`] }, `</v2/demo/tags/list?page=${n === 1 ? 2 : 1}&again=${registry.requests.length}>; rel="next"`);
    };
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} sent a page of entries already read, linking on: its pagination loops while listing the tags of demo; stopped.`);
    expect(registry.requests).toHaveLength(3);
  });

  it('follows empty pages that link on (a filtered page may be empty), within the page cap', async () => {
    registry.handle = (req, res) => {
      const n = pageNumber(req.url);
      if (n < 5) return page(res, { name: 'demo', tags: [] }, `</v2/demo/tags/list?page=${n + 1}>; rel="next"`);
      page(res, { name: 'demo', tags: ['found'] });
    };
    expect(await client.repository(registry.host, 'demo').listTags()).toEqual(['found']);
    expect(registry.requests).toHaveLength(5);
  });

  it('refuses a Link to another origin without requesting it', async () => {
    registry.handle = (_req, res) => page(res, { name: 'demo', tags: ['a'] }, `<${other.url}/v2/demo/tags/list?page=2>; rel="next"`);
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} sent a Link to another origin (${other.url}), which is refused while listing the tags of demo; stopped.`);
    expect(other.requests).toEqual([]);
  });

  it('refuses a tag page over 4 MiB without reading it all, and one that is not JSON', async () => {
    let done: Promise<{ sent: number; cutOff: boolean }> | undefined;
    registry.handle = (_req, res) => {
      done = sendEndlessBody(res, 200, 1024 ** 3, { 'content-type': 'application/json' }).done;
    };
    const error = await failure(client.repository(registry.host, 'demo').listTags());
    expect(error.message).toBe(`Registry ${registry.host} answered the tags of demo with a page over 4194304 bytes (GET ${registry.url}/v2/demo/tags/list).`);
    const served = await done!;
    expect(served.cutOff).toBe(true);
    expect(served.sent).toBeLessThan(64 * 1024 ** 2);

    registry.handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('<html>\u001b[2J not json');
    expect((await failure(client.repository(registry.host, 'demo').listTags())).message).toBe(
      `Registry ${registry.host} answered the tags of demo with something that is not JSON (GET ${registry.url}/v2/demo/tags/list).`,
    );
  });

  it('drops entries that are not valid tags (escape sequences, control characters, non-strings)', async () => {
    registry.handle = (_req, res) => page(res, { name: 'demo', tags: ['15.2', '\u001b[31mred', 'a\r\nb', 42, null, 'x'.repeat(129), 'ok_1'] });
    expect(await client.repository(registry.host, 'demo').listTags()).toEqual(['15.2', 'ok_1']);
  });

  it('ends a catalog whose registry ignores `last` (the same page again adds nothing), caps one that never ends, and stops a Link loop', async () => {
    // listCatalog itself (./registry/catalog.ts), as the dashboard calls it.
    const catalog = (limit: number) => client.listCatalog(registry.host, { pageSize: 2, limit });

    registry.handle = (_req, res) => page(res, { repositories: ['a', 'b'] });
    expect(await catalog(10_000)).toEqual({ repositories: ['a', 'b'], truncated: false });
    expect(registry.requests).toHaveLength(2);

    registry.requests.length = 0;
    registry.handle = (req, res) => {
      const last = new URL(req.url ?? '/', 'http://x').searchParams.get('last') ?? 'r0';
      const n = Number(last.slice(1));
      page(res, { repositories: [`r${n + 1}`, `r${n + 2}`] });
    };
    const capped = await catalog(25);
    expect(capped.truncated).toBe(true);
    expect(capped.repositories).toHaveLength(25);
    expect(registry.requests).toHaveLength(13);

    registry.requests.length = 0;
    // The second page links back to the first.
    registry.handle = (req, res) =>
      req.url?.includes('last=') ? page(res, { repositories: ['y'] }, '</v2/_catalog?n=2>; rel="next"') : page(res, { repositories: ['x'] }, '</v2/_catalog?n=2&last=x>; rel="next"');
    const looped = await catalog(10_000).catch((e: unknown) => e);
    expect(looped).toBeInstanceOf(OciError);
    expect((looped as OciError).message).toMatch(/Link back to a page already read/);
    expect(registry.requests).toHaveLength(2);
  });
});
