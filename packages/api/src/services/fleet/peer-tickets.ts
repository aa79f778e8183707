// Peer tickets as the tracker issues them (the format and the check: @cider/protocol's
// peer-ticket.ts). The signing key comes from the control plane's secret key, so every control
// process of a site signs alike; it is derived once per process.
import { issuePeerTicket, peerTicketPublicKey, peerTicketSigningKey } from '@cider/protocol';
import type { KeyObject } from 'node:crypto';
import type { ServiceDeps } from '../deps.ts';

const keys = new WeakMap<Buffer, { signing: KeyObject; publicKey: string }>();

function keysOf(deps: Pick<ServiceDeps, 'secretKey'>): { signing: KeyObject; publicKey: string } {
  let found = keys.get(deps.secretKey);
  if (!found) {
    const signing = peerTicketSigningKey(deps.secretKey);
    keys.set(deps.secretKey, (found = { signing, publicKey: peerTicketPublicKey(signing) }));
  }
  return found;
}

/** The public key agents check tickets with (sent in every welcome). */
export function peerTicketKey(deps: Pick<ServiceDeps, 'secretKey'>): string {
  return keysOf(deps).publicKey;
}

/** A ticket for `reader` to read `digest` from `server`'s peer server for the next `seconds`. */
export function ticketForPeer(deps: Pick<ServiceDeps, 'secretKey'>, grant: { reader: string; server: string; digest: string }, seconds?: number): string {
  return issuePeerTicket(keysOf(deps).signing, grant, seconds === undefined ? {} : { seconds });
}
