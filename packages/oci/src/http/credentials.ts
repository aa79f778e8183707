// Where registry credentials come from. The control plane hands the agent exactly one
// registry's credentials per job (a StaticCredentials); the CLI reads docker's config and
// `cider login` (see ./docker-config.ts).

export type Credential =
  | { kind: 'basic'; username: string; password: string }
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token endpoint. */
  | { kind: 'identity-token'; token: string; username?: string }
  /** A bearer token used as is (docker's `registrytoken`). */
  | { kind: 'registry-token'; token: string };

export interface CredentialStore {
  /** Credentials for a registry host (`host[:port]`), or undefined for anonymous access. */
  get(registry: string): Promise<Credential | undefined>;
  /**
   * Optional: the registry refused this store's `registry-token` for `registry` (it expired in
   * the middle of a long pull). Get a new one, so that `get` returns it, and say whether that
   * worked. Called at most once per request; parallel refusals of one token share one call.
   */
  refresh?(registry: string): Promise<boolean>;
}

export const anonymous: CredentialStore = { get: async () => undefined };

/** A fixed map of host -> credential. */
export class StaticCredentials implements CredentialStore {
  private readonly byHost: Map<string, Credential>;
  constructor(entries: Record<string, Credential> | Map<string, Credential> = {}) {
    this.byHost = entries instanceof Map ? new Map(entries) : new Map(Object.entries(entries));
  }
  async get(registry: string): Promise<Credential | undefined> {
    return this.byHost.get(registry);
  }
}

/** Tries stores in order; the first that knows the host wins. */
export class ChainedCredentials implements CredentialStore {
  constructor(private readonly stores: CredentialStore[]) {}
  async get(registry: string): Promise<Credential | undefined> {
    for (const store of this.stores) {
      const found = await store.get(registry);
      if (found) return found;
    }
    return undefined;
  }
  /** Renewal is asked of the store whose credential was used. */
  async refresh(registry: string): Promise<boolean> {
    for (const store of this.stores) {
      if (await store.get(registry)) return (await store.refresh?.(registry)) ?? false;
    }
    return false;
  }
}

/**
 * One registry's credential that can be renewed: an agent's short-lived pull grant, renewed by
 * `renew` (a round trip to the control plane) when the registry refuses it.
 */
export class RenewableCredential implements CredentialStore {
  constructor(
    private readonly registry: string,
    private current: Credential | undefined,
    private readonly renew: () => Promise<Credential | undefined>,
  ) {}
  async get(registry: string): Promise<Credential | undefined> {
    return registry === this.registry ? this.current : undefined;
  }
  async refresh(registry: string): Promise<boolean> {
    if (registry !== this.registry) return false;
    const next = await this.renew();
    if (!next) return false;
    this.current = next;
    return true;
  }
}
