// Short-lived pull grants: what the control plane hands an agent for one job instead of the
// registry's password. Where the registry speaks token auth (distribution docs/spec/auth/token.md),
// the stored credential is exchanged for a bearer token scoped to pulling one repository, and only
// that token leaves the control plane. Where it speaks only Basic there is no such token: the
// caller seals the credential itself to the node. Where no authentication is asked, nothing is sent.
import { OciError } from '../errors.ts';
import type { AuthManager } from '../http/auth.ts';
import { parseChallenges } from '../http/challenge.ts';
import type { CredentialStore } from '../http/credentials.ts';
import type { RegistryTransport } from '../http/transport.ts';
import { parseReference } from '../reference.ts';

export type PullGrant =
  /** A token from the registry's token service granting `repository:<name>:pull` and nothing else. */
  | { kind: 'bearer'; token: string; expiresAt: string; scope: string }
  /** The registry asks for Basic credentials: there is nothing narrower to hand out. */
  | { kind: 'basic' }
  /**
   * The agent needs no grant: the registry lets anyone pull this repository, or there is no
   * stored credential for it (the agent then asks the token service anonymously, as anyone may).
   */
  | { kind: 'anonymous' };

/**
 * Finds how `repository` at the transport's registry authenticates (an unauthenticated GET of its
 * tags list shows the challenge a pull would meet) and, for token auth, fetches a pull-only token
 * for it with the stored credential. Never asks for push, delete or catalog access, whatever the
 * challenge's own `scope` says.
 */
export async function issuePullGrant(transport: RegistryTransport, auth: AuthManager, credentials: CredentialStore, repository: string): Promise<PullGrant> {
  const name = parseReference(`${transport.registry}/${repository}`, { defaultTag: false }).repository;
  const credential = await credentials.get(transport.registry);
  const response = await transport.send({
    method: 'GET',
    url: `/v2/${name}/tags/list?n=1`,
    scopes: [],
    expect: [200, 401, 404],
    what: `the access check of ${name}`,
    withoutCredentials: true,
  });
  await response.body.dump();
  if (response.status !== 401) return { kind: 'anonymous' };
  const challenges = parseChallenges(response.headers['www-authenticate']);
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  if (!bearer) {
    if (challenges.some((c) => c.scheme === 'basic')) return credential ? { kind: 'basic' } : { kind: 'anonymous' };
    throw new OciError('UNAUTHORIZED', `Registry ${transport.registry} requires authentication for ${name} but sent no Basic or Bearer challenge.`);
  }
  if (!credential) return { kind: 'anonymous' };
  if (credential.kind === 'registry-token') {
    throw new OciError('UNAUTHORIZED', `The credential for ${transport.registry} is a registry token whose scope Cider cannot narrow; store a username and password (or an identity token) to hand out pull-only grants.`);
  }
  const scope = `repository:${name}:pull`;
  const issued = await auth.issueToken(transport.registry, bearer, [scope]);
  return { kind: 'bearer', token: issued.token, expiresAt: new Date(issued.expiresAt).toISOString(), scope };
}
