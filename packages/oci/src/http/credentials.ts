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
}
