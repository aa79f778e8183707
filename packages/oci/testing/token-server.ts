// A token server for tests, implementing distribution's token authentication
// (docs/spec/auth/token.md "Requesting a Token", docs/spec/auth/jwt.md): GET /token with
// service and scope, Basic credentials optional (anonymous gets a token that grants nothing);
// and the OAuth2 refresh-token grant (docs/spec/auth/oauth.md): POST /token with a refresh token,
// which docker calls an identity token. Each user is granted actions on every repository, or
// only on the repositories listed for them. Tokens are ES256 JWTs whose x5c header carries a
// self-signed certificate; that certificate file is the registry's `rootcertbundle`, so a real
// docker-registry verifies them.
import { execFile } from 'node:child_process';
import { randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TokenUser {
  password: string;
  /** Actions granted on every repository: `pull`, `push`, `delete` or `*`. */
  actions?: string[];
  /**
   * Actions granted on these repositories only, added to `actions`: by exact name, or by a
   * prefix ending in `/*` (`team-a/*` covers `team-a/macos`). A repository neither covers is
   * granted nothing, as a registry's access control would.
   */
  repositories?: Record<string, string[]>;
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  users: Record<string, TokenUser>;
  /** Lifetime of tokens in seconds (`expires_in` and the `exp` claim). Default 300. */
  lifetimeS?: number;
  /** Refresh tokens (docker's identity tokens) and the user each acts as, for the OAuth2 refresh grant. */
  refreshTokens?: Record<string, string>;
}

export interface TokenRequestRecord {
  method: string;
  /** The Basic user, or the user a refresh token acts as, if any. */
  account?: string;
  /** `refresh_token` for the OAuth2 grant (POST); absent for GET /token. */
  grant?: string;
  scopes: string[];
  /** Actions the issued token grants, per repository (`name:pull,push`); empty when refused. */
  granted: string[];
  status: number;
}

export interface TokenServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `<url>/token`, the registry's `realm`. */
  realm: string;
  /** PEM certificate of the signing key: the registry's `rootcertbundle`. */
  rootCertBundle: string;
  /** Every token request, in order. */
  readonly requests: TokenRequestRecord[];
  /** Refresh tokens it accepts, and their users; may be changed between tests (delete one to revoke it). */
  readonly refreshTokens: Record<string, string>;
  /** Lifetime of new tokens, seconds; may be changed between tests. */
  lifetimeS: number;
  /**
   * The next this-many tokens carry an `exp` an hour past (beyond distribution's 60 s leeway)
   * while `expires_in` still promises `lifetimeS`: tokens the client trusts and the registry refuses.
   */
  staleTokens: number;
  /**
   * distribution accepts a token until 60 s past its `exp` (clock leeway). When set, `exp` is
   * written 60 s early, so the registry refuses a token exactly `lifetimeS` after it was issued:
   * tests of tokens expiring mid-pull need not wait a minute.
   */
  exactExpiry: boolean;
  /** The `auth` option for startRegistry (@cider/services). */
  registryAuth: { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };
  close(): Promise<void>;
}

/** distribution's leeway on `exp` and `nbf` (registry/auth/token/token.go). */
const registryLeewayS = 60;

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** `repository:demo/macos:pull,push` -> its parts; the name sits between the first and last colon. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

/** The actions `user` holds on `repository`: everywhere, plus what a listed name or `prefix/*` adds. */
function grantedActions(user: TokenUser, repository: string): string[] {
  const actions = new Set(user.actions ?? []);
  for (const [pattern, listed] of Object.entries(user.repositories ?? {})) {
    const covers = pattern.endsWith('/*') ? repository.startsWith(pattern.slice(0, -1)) : repository === pattern;
    if (covers) for (const action of listed) actions.add(action);
  }
  return [...actions];
}

/** A POST body as form fields; at most 64 KiB (a refresh request is a few hundred bytes). */
async function formBody(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function basicUser(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** An EC P-256 key and a self-signed certificate for it, made with the openssl CLI. */
async function signingKey(dir: string): Promise<{ keyPem: string; certPath: string; certDer: string }> {
  const keyPath = join(dir, 'token-signer.key');
  const certPath = join(dir, 'token-signer.pem');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
  await run('openssl', ['req', '-new', '-x509', '-key', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=cider-test-token-signer']);
  const certPem = await readFile(certPath, 'utf8');
  return { keyPem: await readFile(keyPath, 'utf8'), certPath, certDer: new X509Certificate(certPem).raw.toString('base64') };
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'cider-token-'));
  const { keyPem, certPath, certDer } = await signingKey(dir);
  const requests: TokenRequestRecord[] = [];

  const mint = (account: string, access: { type: string; name: string; actions: string[] }[], stale: boolean): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: options.issuer,
      sub: account,
      aud: options.service,
      exp: stale ? now - 3600 : now + state.lifetimeS - (state.exactExpiry ? registryLeewayS : 0),
      nbf: stale ? now - 7200 : now - 1,
      iat: stale ? now - 7200 : now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    // JWS ES256 (RFC 7518 §3.4) wants r||s, not DER.
    const signature = sign('sha256', Buffer.from(signingInput), { key: keyPem, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${base64url(signature)}`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const form = req.method === 'POST' ? await formBody(req) : undefined;
    const params = form ?? url.searchParams;
    const scopes = (req.method === 'POST' ? [params.get('scope') ?? ''] : params.getAll('scope')).flatMap((s) => s.split(' ')).filter(Boolean);
    const credentials = basicUser(req.headers.authorization);
    const record: TokenRequestRecord = { method: req.method ?? 'GET', scopes, granted: [], status: 200 };
    if (credentials) record.account = credentials.user;
    requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'only GET or POST /token' }] });
    }
    if (params.get('service') !== options.service) {
      return reply(400, { errors: [{ code: 'INVALID_SERVICE', message: `this server issues tokens for ${options.service}` }] });
    }
    let user: TokenUser | undefined;
    if (req.method === 'POST') {
      // OAuth2 (oauth.md): only the refresh-token grant; the refused answer is distribution's own token server's.
      record.grant = params.get('grant_type') ?? '';
      if (record.grant !== 'refresh_token') return reply(400, { errors: [{ code: 'UNSUPPORTED', message: 'only grant_type=refresh_token' }] });
      if (!params.get('client_id')) return reply(400, { errors: [{ code: 'MISSING_FIELD', message: 'missing client_id value' }] });
      const account = state.refreshTokens[params.get('refresh_token') ?? ''];
      if (account === undefined || !options.users[account]) return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] });
      record.account = account;
      user = options.users[account];
    } else if (credentials) {
      user = options.users[credentials.user];
      if (!user || user.password !== credentials.password) {
        return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }] }, { 'www-authenticate': 'Basic realm="cider-test-token"' });
      }
    }
    const access = scopes
      .map(parseScope)
      .filter((s): s is NonNullable<typeof s> => s?.type === 'repository')
      .map((s) => {
        const granted = user ? grantedActions(user, s.name) : [];
        return { type: s.type, name: s.name, actions: s.actions.filter((a) => granted.includes(a) || granted.includes('*')) };
      });
    record.granted = access.filter((a) => a.actions.length > 0).map((a) => `${a.name}:${a.actions.join(',')}`);
    const stale = state.staleTokens > 0;
    if (stale) state.staleTokens--;
    const token = mint(record.account ?? '', access, stale);
    const issuedAt = new Date().toISOString();
    if (req.method === 'POST') {
      const scope = access.map((a) => `repository:${a.name}:${a.actions.join(',')}`).join(' ');
      return reply(200, { access_token: token, scope, expires_in: state.lifetimeS, issued_at: issuedAt, refresh_token: params.get('refresh_token') });
    }
    reply(200, { token, access_token: token, expires_in: state.lifetimeS, issued_at: issuedAt });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const realm = `${url}/token`;
  const state: TokenServer = {
    url,
    realm,
    rootCertBundle: certPath,
    requests,
    refreshTokens: { ...options.refreshTokens },
    lifetimeS: options.lifetimeS ?? 300,
    staleTokens: 0,
    exactExpiry: false,
    registryAuth: { kind: 'token', realm, service: options.service, issuer: options.issuer, rootCertBundle: certPath },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  return state;
}
