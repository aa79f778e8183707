// One token request to a registry's token service (distribution docs/spec/auth/token.md
// "Requesting a Token"; oauth.md for the refresh-token grant). The realm is checked first
// (./realm.ts); the answer is bounded (1 MiB, JSON, a token fit for a header); redirects are not
// followed, so the Basic header goes to the realm the registry named and nowhere else.
import { RegistryError, UnauthorizedError, UnreachableError } from '../errors.ts';
import { forbiddenAddressCode } from './address-policy.ts';
import type { Challenge } from './challenge.ts';
import type { Credential } from './credentials.ts';
import type { HttpClient, HttpResponseData } from './http-client.ts';
import { checkRealm } from './realm.ts';
import { printable } from './remote-text.ts';
import { errorCode, maxErrorBodyBytes, parseErrorBody } from './transport.ts';

/** A token answer larger than this is refused: real ones are a few KiB. */
export const maxTokenResponseBytes = 1024 * 1024;
/** distribution's token spec: without expires_in, assume 60 seconds. */
const defaultTokenLifetimeS = 60;
/** Lifetimes beyond a day are taken as a day: the token is fetched again sooner, never later. */
const maxTokenLifetimeS = 24 * 60 * 60;
/** A bearer token as it may appear in a header: visible ASCII, no spaces (RFC 6750 §2.1 b64token, loosely). */
const tokenPattern = /^[\x21-\x7e]{1,65536}$/;

export interface IssuedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Lifetime in milliseconds, as the service said (or the spec's default). */
  lifetimeMs: number;
}

export interface TokenRequest {
  http: HttpClient;
  userAgent: string;
  /** The registry (`host[:port]`) whose challenge named the realm, for messages. */
  host: string;
  /** The registry's base URL: decides whether a plain-http realm is acceptable. */
  registryBase: URL;
  challenge: Challenge;
  scopes: string[];
  credential: Credential | undefined;
  /** The error for credentials the token service refused. */
  refused: () => Error;
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export async function requestToken(request: TokenRequest): Promise<IssuedToken> {
  const { host, challenge, scopes, credential } = request;
  const realm = challenge.params.realm;
  if (!realm) throw new UnauthorizedError(`Registry ${host} asked for a bearer token without saying where to get one (no realm).`);
  const realmUrl = checkRealm(host, realm, request.registryBase);
  const headers: Record<string, string> = { 'user-agent': request.userAgent, accept: 'application/json' };
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
  const where = printable(realmUrl.origin + realmUrl.pathname, 200);
  const info = { method, url: where };
  let response: HttpResponseData;
  try {
    // A realm on another host than the registry is checked again at connect time: its name must not resolve into link-local space.
    const guardAddresses = realmUrl.hostname !== request.registryBase.hostname;
    response = await request.http.request(realmUrl, { method, headers, body, idleTimeoutMs: 30_000, guardAddresses });
  } catch (error) {
    if (errorCode(error) === forbiddenAddressCode) {
      throw new UnauthorizedError(`Registry ${host} named the token service ${where}, which Cider refuses: ${(error as Error).message}. No credentials were sent to it.`, info);
    }
    throw new UnreachableError(`Cannot reach the token service of ${host} at ${where}: ${(error as Error).message}`, info, { cause: error });
  }
  const status = response.statusCode;
  if (status !== 200) {
    const text = (await response.body.prefix(maxErrorBodyBytes)).toString('utf8');
    if (status === 401 || status === 403) throw request.refused();
    if (status >= 300 && status < 400) {
      throw new RegistryError(
        `The token service of ${host} (${where}) answered with a redirect (HTTP ${status}); Cider sends credentials only to the realm the registry names and does not follow it. Configure the registry's realm with the final URL.`,
        { ...info, status },
      );
    }
    const errors = parseErrorBody(text);
    const detail = errors.length ? errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ') : printable(text) || 'no details';
    throw new RegistryError(`The token service of ${host} (${where}) answered HTTP ${status}: ${detail}`, { ...info, status }, errors);
  }
  let json: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    json = (await response.body.json(maxTokenResponseBytes)) as typeof json;
    if (typeof json !== 'object' || json === null) throw new Error('not an object');
  } catch (error) {
    const why = errorCode(error) === 'EBODYTOOLARGE' ? `an answer larger than ${maxTokenResponseBytes} bytes` : 'an answer that is not a JSON object';
    throw new RegistryError(`The token service of ${host} (${where}) sent ${why}; expected {"token": ...}.`, { ...info, status });
  }
  const token = typeof json.token === 'string' && json.token ? json.token : json.access_token;
  if (typeof token !== 'string' || !token) throw new UnauthorizedError(`The token service of ${host} (${where}) sent no token.`, info);
  if (!tokenPattern.test(token)) throw new RegistryError(`The token service of ${host} (${where}) sent a token that cannot be used in a header (spaces, control characters, or over 64 KiB).`, { ...info, status });
  const lifetimeS = typeof json.expires_in === 'number' && Number.isFinite(json.expires_in) && json.expires_in > 0 ? Math.min(json.expires_in, maxTokenLifetimeS) : defaultTokenLifetimeS;
  const issued = typeof json.issued_at === 'string' ? Date.parse(json.issued_at) : Number.NaN;
  // A service clock ahead of ours must not stretch the token's life; one far behind would end it at once.
  const start = Number.isNaN(issued) ? Date.now() : Math.max(Math.min(issued, Date.now()), Date.now() - lifetimeS * 500);
  return { token, expiresAt: start + lifetimeS * 1000, lifetimeMs: lifetimeS * 1000 };
}
