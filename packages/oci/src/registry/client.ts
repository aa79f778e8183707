// The registry client: one transport (auth, retries) per registry host, sharing one connection
// pool. `repository()` hands out the per-repository API (./repository.ts).
import { AuthManager } from '../http/auth.ts';
import { HttpClient } from '../http/http-client.ts';
import { anonymous, type CredentialStore } from '../http/credentials.ts';
import { RegistryTransport, type RetryPolicy } from '../http/transport.ts';
import { apiHost, isLoopbackHost, parseReference, type Reference } from '../reference.ts';
import { issuePullGrant, type PullGrant } from './grant.ts';
import type { CatalogOptions, CatalogPage, RepositoryStore } from '../source.ts';
import { Repository } from './repository.ts';
import { listCatalog } from './catalog.ts';

export const defaultUserAgent = 'cider/0.1 (+https://github.com/cider-fleet)';

export interface RegistryClientOptions {
  credentials?: CredentialStore;
  /**
   * Plain HTTP instead of HTTPS: true for every registry, a list of hosts, or a predicate.
   * Loopback registries (localhost, 127.0.0.0/8, ::1) always use plain HTTP.
   */
  plainHttp?: boolean | string[] | ((registry: string) => boolean);
  /** Loopback registries use plain HTTP (default true); false for one serving TLS on loopback. */
  loopbackPlainHttp?: boolean;
  /** Certificate authorities to trust for https registries instead of Node's bundled ones (with `http`, set them on that client). */
  ca?: string | Buffer | (string | Buffer)[];
  userAgent?: string;
  /** Share one connection pool between clients; by default each client has its own. */
  http?: HttpClient;
  retry?: RetryPolicy;
  /** A response making no progress for this long is abandoned (and retried). Default 60 s. */
  stallTimeoutMs?: number;
  /** Manifests larger than this are refused. Default 4 MiB. */
  maxManifestBytes?: number;
  /** Connections per registry origin. Default 16 (parallel range requests use several). */
  connectionsPerHost?: number;
}

export class RegistryClient {
  private readonly transports = new Map<string, RegistryTransport>();
  private readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private readonly auth: AuthManager;
  private readonly credentials: CredentialStore;
  readonly userAgent: string;
  readonly maxManifestBytes: number;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.userAgent = options.userAgent ?? defaultUserAgent;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
    this.ownsHttp = options.http === undefined;
    this.http = options.http ?? new HttpClient({ maxSocketsPerOrigin: options.connectionsPerHost ?? 16, ca: options.ca });
    this.credentials = options.credentials ?? anonymous;
    this.auth = new AuthManager({
      credentials: this.credentials,
      http: this.http,
      userAgent: this.userAgent,
      baseUrlOf: (registry) => this.baseUrl(registry),
    });
  }

  usesPlainHttp(registry: string): boolean {
    if (isLoopbackHost(registry) && this.options.loopbackPlainHttp !== false) return true;
    const setting = this.options.plainHttp;
    if (typeof setting === 'function') return setting(registry);
    if (Array.isArray(setting)) return setting.includes(registry);
    return setting === true;
  }

  private baseUrl(registry: string): string {
    return `${this.usesPlainHttp(registry) ? 'http' : 'https'}://${apiHost(registry)}`;
  }

  transport(registry: string): RegistryTransport {
    let transport = this.transports.get(registry);
    if (!transport) {
      transport = new RegistryTransport({
        registry,
        baseUrl: this.baseUrl(registry),
        auth: this.auth,
        http: this.http,
        userAgent: this.userAgent,
        retry: this.options.retry,
        stallTimeoutMs: this.options.stallTimeoutMs ?? 60_000,
      });
      this.transports.set(registry, transport);
    }
    return transport;
  }

  repository(registry: string, name: string): Repository {
    return new Repository(this.transport(registry), name, this.maxManifestBytes);
  }

  /** One registry as a RepositoryStore (../source.ts): its catalog and its repositories. */
  store(registry: string): RepositoryStore {
    return { listCatalog: (options) => this.listCatalog(registry, options), repository: (name) => this.repository(registry, name) };
  }

  /** The repository a reference names (a string is parsed first). */
  repositoryOf(reference: Reference | string): Repository {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    return this.repository(ref.registry, ref.repository);
  }

  /**
   * Checks that the registry answers the OCI distribution API and accepts our credentials
   * (GET /v2/; distribution-spec "Determining support").
   */
  async ping(registry: string, repository?: string): Promise<void> {
    const scopes = repository ? [`repository:${repository}:pull`] : [];
    const response = await this.transport(registry).send({
      method: 'GET',
      url: '/v2/',
      scopes,
      expect: [200],
      what: 'the API version check (GET /v2/)',
    });
    await response.body.dump();
  }

  /** The repositories `registry` lists in its catalog (./catalog.ts). */
  listCatalog(registry: string, options?: CatalogOptions): Promise<CatalogPage> {
    return listCatalog(this.transport(registry), options);
  }

  /**
   * A short-lived grant to pull `repository` from `registry`, for handing to someone who must not
   * hold this client's credential (the control plane to an agent; ./grant.ts): a pull-only bearer
   * token where the registry speaks token auth, `basic` where it speaks only Basic, `anonymous`
   * where it asks for nothing (or no credential is stored for it).
   */
  pullGrant(registry: string, repository: string): Promise<PullGrant> {
    return issuePullGrant(this.transport(registry), this.auth, this.credentials, repository);
  }

  async close(): Promise<void> {
    if (this.ownsHttp) this.http.close();
  }
}
