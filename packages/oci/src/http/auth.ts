// Registry authentication: anonymous, Basic, and the Bearer token flow (distribution's
// docs/spec/auth/token.md and oauth.md). Tokens are cached per host and scope set, with at
// most one fetch in flight per key; the challenge learned from a host's first 401 lets later
// requests send a token up front instead of paying a 401 round trip each time.
import { UnauthorizedError, UnreachableError, RegistryError } from '../errors.ts';
import { parseChallenges, type Challenge } from './challenge.ts';
import type { HttpClient, HttpResponseData } from './http-client.ts';
import type { Credential, CredentialStore } from './credentials.ts';

interface CachedToken {
  token: string;
  expiresAt: number;
  /** When to fetch a new one: before expiry, so none expires mid-request. */
  renewAt: number;
}

/** Tokens are renewed this long before they expire (or at half their life, if shorter). */
const renewMarginMs = 10_000;
/** distribution's token spec: without expires_in, assume 60 seconds. */
const defaultTokenLifetimeS = 60;

export interface AuthOptions {
  credentials: CredentialStore;
  http: HttpClient;
  userAgent: string;
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * A scope (token.md "Requesting a Token": `type:name:actions`) with its actions sorted, so
 * `pull,push` and `push,pull` (distribution writes the latter in its challenges) are one scope.
 */
function canonicalScope(scope: string): string {
  const last = scope.lastIndexOf(':');
  if (last <= scope.indexOf(':')) return scope;
  const actions = [...new Set(scope.slice(last + 1).split(','))].sort().join(',');
  return `${scope.slice(0, last)}:${actions}`;
}

function splitScopes(scope: string | undefined): string[] {
  return scope?.split(' ').filter(Boolean).map(canonicalScope) ?? [];
}

/** `repository:demo/macos:pull,push` -> `pull,push access to repository demo/macos`, for messages. */
function describeScopes(scopes: string[]): string {
  if (scopes.length === 0) return 'the registry API';
  return scopes
    .map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.length > 1 ? rest.pop() : undefined;
      return actions ? `${actions} access to ${type} ${rest.join(':')}` : scope;
    })
    .join(' and ');
}

function who(credential: Credential | undefined): string {
  if (credential?.kind === 'basic') return ` for user "${credential.username}"`;
  if (credential?.kind === 'identity-token' && credential.username) return ` for user "${credential.username}"`;
  return '';
}

export class AuthManager {
  /** The challenge each host answered with: which scheme, and for Bearer, where tokens come from. */
  private readonly challenges = new Map<string, Challenge>();
  /** Tokens by host and the scope set a request asked for. */
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string>>();
  /**
   * Scopes a host's challenge asked for beyond what a request named, by that request's key.
   * Kept per key, not per host, so one repository's scope never leaks into another's tokens.
   */
  private readonly extraScopes = new Map<string, string[]>();

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
   * Handles a 401 from `host` (RFC 7235 §3.1; distribution docs/spec/auth/token.md "How to
   * authenticate"): records its challenge and forgets the token that was refused, so one retry
   * can authenticate afresh. Throws UnauthorizedError when a retry cannot help: the retry itself
   * was refused, the credentials are missing, or the token was valid but lacks the permission
   * (`error="insufficient_scope"`, RFC 6750 §3.1), which is a DENIED error.
   *
   * `sent` is the Authorization header the refused request carried: a 401 for a request sent
   * before a newer token arrived must not throw that newer token away.
   */
  async onUnauthorized(
    host: string,
    wwwAuthenticate: string | string[] | undefined,
    scopes: string[],
    isRetry: boolean,
    sent?: string,
  ): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    const credential = await this.options.credentials.get(host);
    if (!challenge) {
      throw new UnauthorizedError(`Registry ${host} requires authentication but sent no usable WWW-Authenticate challenge.`);
    }
    const key = this.tokenKey(host, scopes);
    const asked = scopes.map(canonicalScope);
    const wanted = splitScopes(challenge.params.scope).filter((s) => !asked.includes(s));
    const known = this.extraScopes.get(key) ?? [];
    const newScopes = wanted.filter((s) => !known.includes(s));
    const sentBearer = sent?.startsWith('Bearer ') === true;

    if (challenge.scheme === 'bearer' && challenge.params.error === 'insufficient_scope' && sentBearer && (newScopes.length === 0 || isRetry)) {
      if (!credential) throw this.refused(host, credential);
      throw new UnauthorizedError(
        `Registry ${host} denied ${describeScopes(scopes)}${who(credential)}: the credentials were accepted but do not grant that permission. Ask the registry's administrator for access, or log in as another user.`,
        undefined,
        [],
        'DENIED',
      );
    }
    if (isRetry) throw this.refused(host, credential, sentBearer && credential?.kind !== 'registry-token' ? challenge : undefined);

    this.challenges.set(host, challenge);
    if (newScopes.length) this.extraScopes.set(key, [...known, ...newScopes]);
    const cached = this.tokens.get(key);
    if (cached && (sent === `Bearer ${cached.token}` || newScopes.length)) this.tokens.delete(key);
    if (challenge.scheme === 'basic' && credential?.kind !== 'basic') {
      throw new UnauthorizedError(
        `Registry ${host} requires a username and password. Add credentials for it (cider login ${host}, or the registry's settings in the dashboard).`,
      );
    }
  }

  /** The error for credentials (or their absence) that a host refused even after a fresh attempt. */
  private refused(host: string, credential: Credential | undefined, tokenChallenge?: Challenge): UnauthorizedError {
    if (!credential) {
      return new UnauthorizedError(`Registry ${host} refused anonymous access. Add credentials for it (cider login ${host}, or the registry's settings in the dashboard).`);
    }
    if (tokenChallenge) {
      // The token service accepted the credentials, yet the registry refused its token.
      return new UnauthorizedError(
        `Registry ${host} refused the token issued by its token service (${tokenChallenge.params.realm ?? 'unknown realm'})${who(credential)}. The registry and the token service may disagree on the service name, issuer or signing certificate, or their clocks differ.`,
      );
    }
    return new UnauthorizedError(`Registry ${host} rejected the credentials${who(credential)}: check the username and password (or token) and that they may access this repository.`);
  }

  private tokenKey(host: string, scopes: string[]): string {
    return `${host} ${[...new Set(scopes.map(canonicalScope))].sort().join(' ')}`;
  }

  private async token(host: string, challenge: Challenge, scopes: string[], credential: Credential | undefined): Promise<string> {
    const key = this.tokenKey(host, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const allScopes = [...new Set([...scopes, ...(this.extraScopes.get(key) ?? [])])];
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
    let response: HttpResponseData;
    try {
      response = await this.options.http.request(realmUrl, { method, headers, body, idleTimeoutMs: 30_000 });
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
    const lifetimeMs = (typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : defaultTokenLifetimeS) * 1000;
    const issued = json.issued_at ? Date.parse(json.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    const expiresAt = start + lifetimeMs;
    return { token, expiresAt, renewAt: expiresAt - Math.min(renewMarginMs, lifetimeMs / 2) };
  }
}
