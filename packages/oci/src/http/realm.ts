// Which Bearer realms we send credentials to. The realm comes from the registry's challenge
// (distribution docs/spec/auth/token.md "How to authenticate"), so a hostile registry chooses
// where our stored password goes. It must be a place the password is safe to go:
// - https, so it is not sent in clear; plain http only on the registry's own host when that
//   registry is itself plain http (we were told so: the password crosses that network anyway);
// - never a link-local or cloud metadata address (./address-policy.ts); names resolving to
//   one are refused when connecting;
// - no user:password@ in it (the registry cannot hand us credentials to send elsewhere).
import { UnauthorizedError } from '../errors.ts';
import { forbiddenHostReason } from './address-policy.ts';
import { printable } from './remote-text.ts';

/** The realm as a URL, or an UnauthorizedError naming it and why it is refused. Nothing has been sent yet. */
export function checkRealm(host: string, realm: string, registryBase: URL): URL {
  const refuse = (why: string) =>
    new UnauthorizedError(`Registry ${host} named the token service ${printable(realm, 200)}, which Cider refuses: ${why}. No credentials were sent to it.`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw refuse('it is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuse(`only https is allowed, not ${printable(url.protocol, 20)}`);
  if (url.username || url.password) throw refuse('it carries a user name or password of its own');
  const reason = forbiddenHostReason(url);
  if (reason) throw refuse(reason);
  if (url.protocol === 'http:') {
    const ownHost = registryBase.protocol === 'http:' && url.hostname === registryBase.hostname;
    if (!ownHost) {
      throw refuse(
        registryBase.protocol === 'http:'
          ? `plain http is allowed only on the registry's own host (${registryBase.hostname}); serve the token service over https`
          : 'it is plain http while the registry uses https; serve the token service over https',
      );
    }
  }
  return url;
}
