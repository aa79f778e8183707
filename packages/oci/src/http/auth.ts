// Registry authentication: anonymous, Basic, and the Bearer token flow (distribution's
// docs/spec/auth/token.md and oauth.md). Tokens are cached per host and scope set, with at
// most one fetch in flight per key; the challenge learned from a host's first 401 lets later
// requests send a token up front instead of paying a 401 round trip each time.
import { request, type Dispatcher } from 'undici';
import { UnauthorizedError, UnreachableError, RegistryError } from '../errors.ts';
import { parseChallenges, type Challenge } from './challenge.ts';
import type { Credential, CredentialStore } from './credentials.ts';

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens are renewed this long before they expire, so none expires mid-request. */
const renewMarginMs = 10_000;
/** distribution's token spec: without expires_in, assume 60 seconds. */
const defaultTokenLifetimeS = 60;

export interface AuthOptions {
  credentials: CredentialStore;
  dispatcher: Dispatcher;
  userAgent: string;
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export class AuthManager {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly options: AuthOptions) {}

  /** The Authorization header to send to `host` for `scopes`, if we know one is needed. */
  async authorization(host: string, scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenges.get(host);
    if (!challenge) return undefined;
    const credential = await this.options.credentials.get(host);
    if (challenge.scheme === 'basic') {
      return credential?.kind === 'basic' ? basicHeader(credential.username, credential.password) : undefined;
    }
    if (challenge.scheme === 'bearer') {
      if (credential?.kind === 'registry-token') return `Bearer ${credential.token}`;
      return `Bearer ${await this.token(host, challenge, scopes, credential)}`;
    }
    return undefined;
  }

  /**
   * Handles a 401 from `host`: records its challenge and forgets any token for these scopes,
   * so one retry can authenticate afresh. A 401 on that retry means the credentials (or their
   * lack) are refused, and throws UnauthorizedError saying which.
   */
  async onUnauthorized(host: string, wwwAuthenticate: string | string[] | undefined, scopes: string[], isRetry: boolean): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    const credential = await this.options.credentials.get(host);
    if (!challenge) {
      throw new UnauthorizedError(`Registry ${host} requires authentication but sent no usable WWW-Authenticate challenge.`);
    }
    if (isRetry) throw this.refused(host, credential);
    this.challenges.set(host, challenge);
    const scopeFromServer = challenge.params.scope?.split(' ').filter(Boolean) ?? [];
    this.tokens.delete(this.tokenKey(host, [...scopes, ...scopeFromServer]));
    if (challenge.scheme === 'basic' && credential?.kind !== 'basic') {
      throw new UnauthorizedError(
        `Registry ${host} requires a username and password. Add credentials for it (cider login ${host}, or the registry's settings in the dashboard).`,
      );
    }
  }

  private refused(host: string, credential: Credential | undefined): UnauthorizedError {
    if (!credential) {
      return new UnauthorizedError(`Registry ${host} refused anonymous access. Add credentials for it (cider login ${host}, or the registry's settings in the dashboard).`);
    }
    const who = credential.kind === 'basic' ? ` for user "${credential.username}"` : '';
    return new UnauthorizedError(`Registry ${host} rejected the credentials${who}: check the username and password (or token) and that they may access this repository.`);
  }

  private tokenKey(host: string, scopes: string[]): string {
    return `${host} ${[...new Set(scopes)].sort().join(' ')}`;
  }

  private async token(host: string, challenge: Challenge, scopes: string[], credential: Credential | undefined): Promise<string> {
    const allScopes = [...new Set([...scopes, ...(challenge.params.scope?.split(' ').filter(Boolean) ?? [])])];
    const key = this.tokenKey(host, allScopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - renewMarginMs > Date.now()) return cached.token;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const fetching = this.fetchToken(host, challenge, allScopes, credential)
      .then((token) => {
        this.tokens.set(key, token);
        return token.token;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, fetching);
    return fetching;
  }

  private async fetchToken(host: string, challenge: Challenge, scopes: string[], credential: Credential | undefined): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new UnauthorizedError(`Registry ${host} asked for a bearer token without saying where to get one (no realm).`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new UnauthorizedError(`Registry ${host} named an invalid token realm: ${realm}`);
    }
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (credential?.kind === 'identity-token') {
      // OAuth2 refresh-token grant (distribution docs/spec/auth/oauth.md).
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.token, client_id: 'cider' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (challenge.params.service) realmUrl.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) realmUrl.searchParams.append('scope', scope);
      if (credential?.kind === 'basic') {
        headers.authorization = basicHeader(credential.username, credential.password);
        realmUrl.searchParams.set('account', credential.username);
      }
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(realmUrl, { method, headers, body, dispatcher: this.options.dispatcher });
    } catch (error) {
      throw new UnreachableError(`Cannot reach the token service of ${host} at ${realmUrl.origin}: ${(error as Error).message}`, {
        method,
        url: realmUrl.origin + realmUrl.pathname,
      }, { cause: error });
    }
    const text = await response.body.text();
    if (response.statusCode === 401 || response.statusCode === 403) throw this.refused(host, credential);
    if (response.statusCode !== 200) {
      throw new RegistryError(`The token service of ${host} answered ${response.statusCode}: ${text.slice(0, 200)}`, {
        method,
        url: realmUrl.origin + realmUrl.pathname,
        status: response.statusCode,
      });
    }
    let json: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      json = JSON.parse(text);
    } catch {
      throw new RegistryError(`The token service of ${host} sent a body that is not JSON`, {
        method,
        url: realmUrl.origin + realmUrl.pathname,
        status: response.statusCode,
      });
    }
    const token = json.token ?? json.access_token;
    if (!token) throw new UnauthorizedError(`The token service of ${host} sent no token.`);
    const lifetime = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : defaultTokenLifetimeS;
    const issued = json.issued_at ? Date.parse(json.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    return { token, expiresAt: start + lifetime * 1000 };
  }
}
