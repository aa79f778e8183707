// A token server for tests, implementing distribution's token authentication
// (docs/spec/auth/token.md "Requesting a Token", docs/spec/auth/jwt.md): GET /token with
// service and scope, Basic credentials optional (anonymous gets a token that grants nothing).
// Tokens are ES256 JWTs whose x5c header carries a self-signed certificate; that certificate
// file is the registry's `rootcertbundle`, so a real docker-registry verifies them.
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
  actions: string[];
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  users: Record<string, TokenUser>;
  /** Lifetime of tokens in seconds (`expires_in` and the `exp` claim). Default 300. */
  lifetimeS?: number;
}

export interface TokenRequestRecord {
  /** The Basic user, if any. */
  account?: string;
  scopes: string[];
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

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const credentials = basicUser(req.headers.authorization);
    const record: TokenRequestRecord = { scopes, status: 200 };
    if (credentials) record.account = credentials.user;
    requests.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/token') return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'only GET /token' }] });
    if (url.searchParams.get('service') !== options.service) {
      return reply(400, { errors: [{ code: 'INVALID_SERVICE', message: `this server issues tokens for ${options.service}` }] });
    }
    let granted: string[] = [];
    if (credentials) {
      const user = options.users[credentials.user];
      if (!user || user.password !== credentials.password) {
        return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication failed' }] }, { 'www-authenticate': 'Basic realm="cider-test-token"' });
      }
      granted = user.actions;
    }
    const access = scopes
      .map(parseScope)
      .filter((s): s is NonNullable<typeof s> => s?.type === 'repository')
      .map((s) => ({ type: s.type, name: s.name, actions: s.actions.filter((a) => granted.includes(a) || granted.includes('*')) }));
    const stale = state.staleTokens > 0;
    if (stale) state.staleTokens--;
    const token = mint(credentials?.user ?? '', access, stale);
    reply(200, { token, access_token: token, expires_in: state.lifetimeS, issued_at: new Date().toISOString() });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const realm = `${url}/token`;
  const state: TokenServer = {
    url,
    realm,
    rootCertBundle: certPath,
    requests,
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
