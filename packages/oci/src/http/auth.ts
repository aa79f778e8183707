// Registry authentication: anonymous, Basic, and the Bearer token flow (distribution's
// docs/spec/auth/token.md and oauth.md). Tokens are cached per host and scope set, with at
// most one fetch in flight per key; the challenge learned from a host's first 401 lets later
// requests send a token up front instead of paying a 401 round trip each time. Credentials go
// to the registry's own origin (./transport.ts) and to the realm it names, once that realm
// passes ./realm.ts. A `registry-token` refused mid-pull (expired) is renewed through the
// credential store's `refresh`, once per request.
import { UnauthorizedError } from '../errors.ts';
import { parseChallenges, type Challenge } from './challenge.ts';
import type { HttpClient } from './http-client.ts';
import type { Credential, CredentialStore } from './credentials.ts';
import { printable } from './remote-text.ts';
import { requestToken, type IssuedToken } from './token-service.ts';

interface CachedToken {
  token: string;
  expiresAt: number;
  /** When to fetch a new one: before expiry, so none expires mid-request. */
  renewAt: number;
}

/** Tokens are renewed this long before they expire (or at half their life, if shorter). */
const renewMarginMs = 10_000;

export interface AuthOptions {
  credentials: CredentialStore;
  http: HttpClient;
  userAgent: string;
  /** The base URL of a registry (`https://host:port`): realms are judged against it. Default https. */
  baseUrlOf?: (registry: string) => string;
}

/** What the transport does after a 401 that onUnauthorized did not turn into an error. */
export type UnauthorizedOutcome = 'retry' | 'refreshed';

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
  /** Renewals of a registry token under way, by host: parallel refusals of one token share one. */
  private readonly renewals = new Map<string, { replaced: string; done: Promise<boolean> }>();

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
      try {
        return `Bearer ${await this.token(host, challenge, scopes, credential)}`;
      } catch (error) {
        // The next request asks the registry afresh: its realm or token service may have been fixed.
        if (this.challenges.get(host) === challenge) this.challenges.delete(host);
        throw error;
      }
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
   *
   * When the refused header carried the store's `registry-token` and `mayRefresh` is set (the
   * request has not renewed it yet), the store's `refresh` is asked for a new one: the answer is
   * `refreshed`, and the request is worth one more try whatever `isRetry` says.
   */
  async onUnauthorized(
    host: string,
    wwwAuthenticate: string | string[] | undefined,
    scopes: string[],
    isRetry: boolean,
    sent?: string,
    mayRefresh = false,
  ): Promise<UnauthorizedOutcome> {
    const challenges = parseChallenges(wwwAuthenticate);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    const credential = await this.options.credentials.get(host);
    if (!challenge) {
      throw new UnauthorizedError(`Registry ${host} requires authentication but sent no usable WWW-Authenticate challenge.`);
    }
    const lacksScope = challenge.scheme === 'bearer' && challenge.params.error === 'insufficient_scope';
    if (mayRefresh && !lacksScope && sent?.startsWith('Bearer ') && credential?.kind === 'registry-token' && this.options.credentials.refresh) {
      this.challenges.set(host, challenge);
      // Someone else renewed it while this request was out: try again with the new one.
      if (sent !== `Bearer ${credential.token}`) return 'refreshed';
      if (await this.renew(host, credential.token)) return 'refreshed';
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
    return 'retry';
  }

  /** Asks the store for a new registry token in place of `replaced`; parallel callers share one request. */
  private renew(host: string, replaced: string): Promise<boolean> {
    const pending = this.renewals.get(host);
    if (pending?.replaced === replaced) return pending.done;
    const done: Promise<boolean> = Promise.resolve()
      .then(() => this.options.credentials.refresh!(host))
      .catch((error: unknown) => {
        throw new UnauthorizedError(`Registry ${host} refused its pull token (it may have expired), and renewing it failed: ${(error as Error)?.message ?? String(error)}`);
      })
      .finally(() => {
        if (this.renewals.get(host)?.done === done) this.renewals.delete(host);
      });
    this.renewals.set(host, { replaced, done });
    return done;
  }

  /**
   * A token for `scopes` exactly, fetched now from the realm `challenge` names with the stored
   * credential, bypassing the cache (for grants handed to someone else: ../registry/grant.ts).
   */
  async issueToken(host: string, challenge: Challenge, scopes: string[]): Promise<IssuedToken> {
    const credential = await this.options.credentials.get(host);
    return this.requestToken(host, challenge, scopes, credential);
  }

  private requestToken(host: string, challenge: Challenge, scopes: string[], credential: Credential | undefined): Promise<IssuedToken> {
    return requestToken({
      http: this.options.http,
      userAgent: this.options.userAgent,
      host,
      registryBase: new URL(this.options.baseUrlOf?.(host) ?? `https://${host}`),
      challenge,
      scopes,
      credential,
      refused: () => this.refused(host, credential),
    });
  }

  /** The error for credentials (or their absence) that a host refused even after a fresh attempt. */
  private refused(host: string, credential: Credential | undefined, tokenChallenge?: Challenge): UnauthorizedError {
    if (!credential) {
      return new UnauthorizedError(`Registry ${host} refused anonymous access. Add credentials for it (cider login ${host}, or the registry's settings in the dashboard).`);
    }
    if (tokenChallenge) {
      // The token service accepted the credentials, yet the registry refused its token.
      return new UnauthorizedError(
        `Registry ${host} refused the token issued by its token service (${printable(tokenChallenge.params.realm ?? 'unknown realm', 200)})${who(credential)}. The registry and the token service may disagree on the service name, issuer or signing certificate, or their clocks differ.`,
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
    const issued = await this.requestToken(host, challenge, scopes, credential);
    return { token: issued.token, expiresAt: issued.expiresAt, renewAt: issued.expiresAt - Math.min(renewMarginMs, issued.lifetimeMs / 2) };
  }
}
