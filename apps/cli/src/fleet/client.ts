// A typed client for the Cider Fleet REST API v1, made from its contract (@cider/api's
// rest/contract.ts). The contract is imported for its types only, so no server code (nor zod
// schemas) ships in the CLI: the route table below repeats each operation's method and path, and
// its type makes the compiler check every entry against the contract's literal method and path
// and that no operation is missing.
import type { ErrorBody, Method, OperationId, Operations, RequestOf, ResponseOf } from '@cider/api';
import { FleetError } from './errors.ts';

type Routes = { [Id in OperationId]: readonly [Operations[Id]['method'], Operations[Id]['path']] };

const routes: Routes = {
  'me.get': ['GET', '/me'],
  'projects.list': ['GET', '/projects'],
  'projects.get': ['GET', '/projects/{project}'],
  'projects.rollout': ['GET', '/projects/{project}/rollout'],
  'projects.rolloutNodes': ['GET', '/projects/{project}/rollout/nodes'],
  'pins.list': ['GET', '/projects/{project}/pins'],
  'pins.create': ['POST', '/projects/{project}/pins'],
  'pins.get': ['GET', '/pins/{pinId}'],
  'pins.update': ['PUT', '/pins/{pinId}'],
  'pins.delete': ['DELETE', '/pins/{pinId}'],
  'nodes.list': ['GET', '/nodes'],
  'nodes.get': ['GET', '/nodes/{node}'],
  'nodes.revoke': ['POST', '/nodes/{node}/revoke'],
  'jobs.list': ['GET', '/jobs'],
  'jobs.get': ['GET', '/jobs/{jobId}'],
  'jobs.cancel': ['POST', '/jobs/{jobId}/cancel'],
  'jobs.retry': ['POST', '/jobs/{jobId}/retry'],
  'registries.list': ['GET', '/registries'],
  'registries.tagPolicy': ['GET', '/tag-policy'],
  'registries.get': ['GET', '/registries/{registry}'],
  'images.repositories': ['GET', '/registries/{registry}/repositories'],
  'images.tags': ['GET', '/registries/{registry}/tags'],
  'audit.list': ['GET', '/audit-events'],
  'tokens.list': ['GET', '/tokens'],
  'tokens.create': ['POST', '/tokens'],
  'tokens.revoke': ['DELETE', '/tokens/{tokenId}'],
};

/** What a call sends; parts the operation does not take are left out. */
export type CallInput<Id extends OperationId> = { [K in keyof RequestOf<Id> as RequestOf<Id>[K] extends undefined ? never : K]: RequestOf<Id>[K] };

export interface CallOptions {
  /** The `etag` of the version read: the server refuses the change (412) if it moved since. */
  ifMatch?: string;
}

export interface FleetClientOptions {
  /** The server's base URL (the API is under `<server>/api/v1`). */
  server: string;
  token: string;
  /** Where the token came from, to say which one to fix when it is refused. */
  tokenSource: string;
  timeoutMs?: number;
  /** Answers larger than this are refused rather than read into memory. */
  maxResponseBytes?: number;
}

const defaultTimeoutMs = 30_000;
const defaultMaxResponseBytes = 16 * 1024 * 1024;

/** The server's base URL, refusing anything but http(s) without credentials in it. */
export function parseServer(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new FleetError('USAGE', `Server "${server}" is not a URL: give it as https://cider.example.com (--server or CIDER_SERVER).`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new FleetError('USAGE', `Server ${server}: use an http:// or https:// URL.`);
  if (url.username || url.password) throw new FleetError('USAGE', 'Put no user or password in the server URL: the API token goes in CIDER_TOKEN or cider fleet login.');
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

export class FleetClient {
  readonly base: URL;
  readonly #token: string;
  readonly #tokenSource: string;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(options: FleetClientOptions) {
    this.base = parseServer(options.server);
    this.#token = options.token;
    this.#tokenSource = options.tokenSource;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.#maxResponseBytes = options.maxResponseBytes ?? defaultMaxResponseBytes;
  }

  get origin(): string {
    return this.base.origin;
  }

  /** The URL of an operation: path parameters encoded into its path, query values as text. */
  url<Id extends OperationId>(id: Id, input: Partial<RequestOf<Id>>): URL {
    const [, template] = routes[id];
    const params = (input.params ?? {}) as Record<string, unknown>;
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = params[name];
      if (value === undefined || value === null || value === '') throw new FleetError('USAGE', `Missing ${name} for ${id}.`);
      return encodeURIComponent(String(value));
    });
    const url = new URL(`api/v1${path}`, this.base);
    for (const [name, value] of Object.entries((input.query ?? {}) as Record<string, unknown>)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    return url;
  }

  async call<Id extends OperationId>(id: Id, input: CallInput<Id>, options: CallOptions = {}): Promise<ResponseOf<Id>> {
    const [method] = routes[id] as readonly [Method, string];
    const request = input as Partial<RequestOf<Id>>;
    const url = this.url(id, request);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    const what = `${method} ${url.pathname}`;

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        // A redirect would carry the token to wherever it points: say where instead.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#unreachable(error);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = response.headers.get('location') ?? 'elsewhere';
      throw new FleetError('USAGE', `Cider Fleet at ${this.origin} redirects ${what} to ${location}: set --server (or CIDER_SERVER) to the server's own URL.`, response.status);
    }
    const text = await this.#readCapped(response, what);
    if (!response.ok) throw this.#refused(response.status, text);
    if (response.status === 204 || text === '') return undefined as ResponseOf<Id>;
    try {
      return JSON.parse(text) as ResponseOf<Id>;
    } catch {
      throw new FleetError('BAD_RESPONSE', `Cider Fleet at ${this.origin} answered ${what} with something that is not JSON: is ${this.base.href} the Cider Fleet server (not a proxy's page)?`, response.status);
    }
  }

  #unreachable(error: unknown): FleetError {
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new FleetError('TIMEOUT', `Cider Fleet at ${this.origin} did not answer within ${Math.round(this.#timeoutMs / 100) / 10} s. Check that the server is up, then try again.`);
    }
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    return new FleetError('UNREACHABLE', `Cannot reach Cider Fleet at ${this.origin} (${cause}). Check --server or CIDER_SERVER and that the server is up.`);
  }

  /** The body as text, refusing more than the cap without reading it all. */
  async #readCapped(response: Response, what: string): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? NaN);
    const tooLarge = () => new FleetError('BAD_RESPONSE', `Cider Fleet at ${this.origin} answered ${what} with more than ${this.#maxResponseBytes} bytes; ask for fewer items (--limit).`, response.status);
    if (declared > this.#maxResponseBytes) {
      await response.body?.cancel();
      throw tooLarge();
    }
    if (!response.body) return '';
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > this.#maxResponseBytes) {
          await reader.cancel();
          throw tooLarge();
        }
        chunks.push(value);
      }
    } catch (error) {
      if (error instanceof FleetError) throw error;
      throw this.#unreachable(error);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** An error answer as a FleetError with the API's code, and a next step where there is one. */
  #refused(status: number, text: string): FleetError {
    let body: ErrorBody['error'] | undefined;
    try {
      const parsed = JSON.parse(text) as Partial<ErrorBody> | null;
      if (parsed && typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string') body = parsed.error;
    } catch {
      // Not the API's error shape (a proxy's page): the status speaks for it below.
    }
    const said = body?.message ?? `HTTP ${status}`;
    const fields = body?.fields ? ` (${Object.entries(body.fields).map(([field, problems]) => `${field}: ${problems.join('; ')}`).join(', ')})` : '';
    switch (status) {
      case 401:
        return new FleetError('UNAUTHENTICATED', `Cider Fleet at ${this.origin} refused the token from ${this.#tokenSource} (revoked, expired or mistyped): run cider fleet login or set CIDER_TOKEN to a valid API token.`, status);
      case 403:
        return new FleetError('FORBIDDEN', `Not allowed: ${said} Your token acts as a user whose role does not permit this; ask an admin.`, status);
      case 412:
        return new FleetError('PRECONDITION_FAILED', `The pin changed since it was read (someone else updated it): ${said} Read it again and retry.`, status);
      default:
        return new FleetError(body?.code ?? (status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'), body ? `${said}${fields}` : `Cider Fleet at ${this.origin} answered HTTP ${status}.`, status);
    }
  }
}
