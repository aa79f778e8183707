// Paginated lists (tags, catalog, referrers): distribution-spec "Listing Tags" with `n` and
// `last` and the RFC 8288 `Link: <url>; rel="next"` header. The registry decides how many pages
// there are, so every limit is ours: a page count, an item count, a time limit; a Link back to a
// page already read is an error (it would loop), and a Link to another origin is refused (the
// registry would make us send our token, or a request, anywhere).
import { OciError } from '../errors.ts';
import { printable } from '../http/remote-text.ts';
import type { HttpResponse, RegistryTransport } from '../http/transport.ts';

export const defaultMaxPages = 1_000;
export const defaultMaxItems = 100_000;
export const defaultPaginationTimeMs = 5 * 60_000;
/** A page of a tag or catalog list larger than this is refused. */
export const maxPageBytes = 4 * 1024 * 1024;

export interface PaginateOptions<T> {
  transport: RegistryTransport;
  /** The first page: a path on the registry (`/v2/<name>/tags/list?n=100`). */
  first: string;
  scopes: string[];
  /** What is listed, for messages: `the tags of demo/macos`. */
  what: string;
  headers?: Record<string, string>;
  /** The items of one page, read from its response (within a byte limit). */
  readPage: (response: HttpResponse) => Promise<T[]>;
  /** The next page when the registry sends no Link (`?n=..&last=..`), from this page's items; undefined when done. */
  nextWithoutLink?: (items: T[]) => string | undefined;
  /** What makes two items the same, so repeats are dropped. Default: the item. */
  keyOf?: (item: T) => string;
  /** Items kept at most; past that the result is truncated. */
  maxItems?: number;
  /** Pages read at most; a registry with more is refused. */
  maxPages?: number;
  /** Time for the whole listing. */
  timeLimitMs?: number;
  signal?: AbortSignal;
}

export interface Paginated<T> {
  items: T[];
  /** More items were offered than `maxItems`. */
  truncated: boolean;
  pages: number;
}

/** The `rel="next"` target of a Link header (RFC 8288 §3: `<uri>; rel="next"`, several links comma-separated), if any. */
export function nextLink(link: string | string[] | undefined): string | undefined {
  const values = Array.isArray(link) ? link : link === undefined ? [] : [link];
  for (const value of values) {
    for (const [, target, params] of value.matchAll(/<([^>]*)>([^<]*)/g)) {
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params ?? '');
      const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (relations.includes('next')) return target;
    }
  }
  return undefined;
}

/** Reads every page of a paginated list, within the limits above; items in the registry's order, repeats dropped. */
export async function paginate<T>(options: PaginateOptions<T>): Promise<Paginated<T>> {
  const { transport, what } = options;
  const maxItems = options.maxItems ?? defaultMaxItems;
  const maxPages = options.maxPages ?? defaultMaxPages;
  const deadline = Date.now() + (options.timeLimitMs ?? defaultPaginationTimeMs);
  const keyOf = options.keyOf ?? ((item: T) => String(item));
  const origin = new URL(transport.baseUrl).origin;
  // A registry whose pagination is broken stays broken; one that was only slow may do better later.
  const refuse = (why: string, retryable = false) => new OciError('REGISTRY_ERROR', `Registry ${transport.registry} ${why} while listing ${what}; stopped.`, { retryable });

  const items: T[] = [];
  const keys = new Set<string>();
  const seen = new Set<string>();
  let url: string | undefined = new URL(options.first, origin).toString();
  let pages = 0;
  while (url) {
    if (pages >= maxPages) throw refuse(`sent more than ${maxPages} pages (an endless chain of Link headers?)`);
    if (Date.now() > deadline) throw refuse(`took more than ${Math.round((options.timeLimitMs ?? defaultPaginationTimeMs) / 1000)} s over ${pages} pages`, true);
    seen.add(url);
    const response = await transport.send({ method: 'GET', url, headers: options.headers, scopes: options.scopes, expect: [200], what, signal: options.signal });
    pages++;
    const page = await options.readPage(response);
    let added = 0;
    for (const item of page) {
      const key = keyOf(item);
      if (keys.has(key)) continue;
      keys.add(key);
      items.push(item);
      added++;
    }
    if (items.length > maxItems) return { items: items.slice(0, maxItems), truncated: true, pages };
    const link = nextLink(response.headers.link);
    let next: string | undefined;
    if (link !== undefined) {
      let target: URL;
      try {
        target = new URL(link, response.url);
      } catch {
        throw refuse(`sent an invalid Link (${printable(link, 100)})`);
      }
      if (target.origin !== origin) throw refuse(`sent a Link to another origin (${printable(target.origin, 100)}), which is refused`);
      next = target.toString();
      if (seen.has(next)) throw refuse(`sent a Link back to a page already read (${printable(target.pathname + target.search, 200)}): its pagination loops`);
      // Under another URL, the same entries again: a loop all the same. (An empty page may precede more.)
      if (page.length > 0 && added === 0) throw refuse(`sent a page of entries already read, linking on: its pagination loops`);
    } else if (added > 0) {
      // Without a Link, `n` and `last`; a page adding nothing ends it, so a registry ignoring `last` cannot loop us.
      const fallback = options.nextWithoutLink?.(page);
      next = fallback === undefined ? undefined : new URL(fallback, origin).toString();
      if (next !== undefined && seen.has(next)) next = undefined;
    }
    url = next;
  }
  return { items, truncated: false, pages };
}

/** Reads a page as JSON within maxPageBytes; an answer too large or not JSON is a clear error. */
export async function readJsonPage(response: HttpResponse, registry: string, what: string): Promise<Record<string, unknown>> {
  let page: unknown;
  try {
    page = await response.body.json(maxPageBytes);
  } catch (error) {
    const tooLarge = (error as { code?: string }).code === 'EBODYTOOLARGE';
    throw new OciError('REGISTRY_ERROR', `Registry ${registry} answered ${what} with ${tooLarge ? `a page over ${maxPageBytes} bytes` : 'something that is not JSON'} (GET ${printable(response.url, 200)}).`, { cause: error, retryable: false });
  }
  if (typeof page !== 'object' || page === null || Array.isArray(page)) throw new OciError('REGISTRY_ERROR', `Registry ${registry} answered ${what} with JSON that is not an object (GET ${printable(response.url, 200)}).`, { retryable: false });
  return page as Record<string, unknown>;
}
