// Peer tickets: what one agent shows another to read a blob from its peer server. The control
// plane (the tracker) issues a ticket for one reader, one serving node, one digest and a short
// time window, and signs it with Ed25519. The serving agent checks it with the control plane's
// public key (sent in the welcome) and needs no call home, so a peer keeps serving while control
// is briefly away, and nothing about the ticket is stored anywhere.
//
//   ticket = "cpt1." base64url(claims JSON) "." base64url(Ed25519 signature over "cpt1." + claims part)
//
// The signing key is derived from the control plane's secret key (HKDF), so every control process
// of a site signs with the same key and a ticket from one is good at a peer welcomed by another.
import { createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

const prefix = 'cpt1.';
/** Longer than any ticket we make (claims are ~250 bytes); a peer refuses anything bigger unread. */
export const maxPeerTicketLength = 1024;
/** How long a ticket is good for by default: a transfer asks for fresh ones as it goes. */
export const defaultPeerTicketSeconds = 600;
/** Clocks of Macs and control differ a little: a ticket is honoured this long either side of its window. */
export const peerTicketSkewSeconds = 30;

const uuid = z.string().uuid();
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const peerTicketClaims = z
  .object({
    /** The node that may read. A server that knows who asks checks it too (checkPeerTicket's `reader`). */
    reader: uuid,
    /** The node whose peer server honours it. */
    server: uuid,
    digest,
    /** Seconds since the epoch: not before, and expiry. */
    nbf: z.number().int().nonnegative(),
    exp: z.number().int().nonnegative(),
  })
  .strict();
export type PeerTicketClaims = z.infer<typeof peerTicketClaims>;

/** Why a ticket was refused. A peer server answers 401 for every one of them. */
export type PeerTicketRefusal = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'other-server' | 'other-digest' | 'other-reader';

export type PeerTicketCheck = { ok: true; claims: PeerTicketClaims } | { ok: false; reason: PeerTicketRefusal };

/** The control plane's ticket signing key, derived from its 32-byte secret key. */
export function peerTicketSigningKey(secretKey: Buffer): KeyObject {
  if (secretKey.length < 32) throw new Error('the secret key must be at least 32 bytes');
  const seed = Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), Buffer.from('cider peer tickets v1'), 32));
  // An Ed25519 private key is its 32-byte seed; PKCS#8 wraps it in a fixed 16-byte header.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

/** The public half as agents receive it: the raw 32-byte Ed25519 key, base64url (43 characters). */
export function peerTicketPublicKey(signingKey: KeyObject): string {
  return createPublicKey(signingKey).export({ format: 'jwk' }).x!;
}

export const peerTicketPublicKeyPattern = /^[A-Za-z0-9_-]{43}$/;

function publicKeyObject(raw: string): KeyObject {
  if (!peerTicketPublicKeyPattern.test(raw)) throw new Error('not an Ed25519 public key (32 bytes, base64url)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw }, format: 'jwk' });
}

/** Issues a ticket for `reader` to read `digest` from `server` from now for `seconds`. */
export function issuePeerTicket(
  signingKey: KeyObject,
  grant: { reader: string; server: string; digest: string },
  options: { now?: Date; seconds?: number } = {},
): string {
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const claims = peerTicketClaims.parse({ ...grant, nbf: now, exp: now + (options.seconds ?? defaultPeerTicketSeconds) });
  const signed = prefix + Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${signed}.${sign(null, Buffer.from(signed), signingKey).toString('base64url')}`;
}

/**
 * A peer server's check of a ticket for a request: signed by the control plane, for this server,
 * for the digest asked for, and within its window (give or take the skew). `reader`, when the
 * server knows who is asking (the reader's node id from the request), must match too.
 * Never throws: anything unexpected is `malformed`.
 */
export function checkPeerTicket(
  ticket: string | undefined,
  /**
   * `digest`: the digest the request is for, or a test of the ticket's digest (a peer server
   * accepts a ticket for an image for each blob of that image).
   */
  expect: { publicKey: string; server: string; digest: string | ((claimed: string) => boolean); reader?: string; now?: Date },
): PeerTicketCheck {
  if (!ticket) return { ok: false, reason: 'missing' };
  if (ticket.length > maxPeerTicketLength || !ticket.startsWith(prefix)) return { ok: false, reason: 'malformed' };
  const dot = ticket.lastIndexOf('.');
  const signed = ticket.slice(0, dot);
  const signature = Buffer.from(ticket.slice(dot + 1), 'base64url');
  let valid = false;
  try {
    valid = signature.length === 64 && verify(null, Buffer.from(signed), publicKeyObject(expect.publicKey), signature);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!valid) return { ok: false, reason: 'bad-signature' };
  let claims: PeerTicketClaims;
  try {
    const parsed = peerTicketClaims.safeParse(JSON.parse(Buffer.from(signed.slice(prefix.length), 'base64url').toString('utf8')));
    if (!parsed.success) return { ok: false, reason: 'malformed' };
    claims = parsed.data;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const now = Math.floor((expect.now ?? new Date()).getTime() / 1000);
  if (now > claims.exp + peerTicketSkewSeconds) return { ok: false, reason: 'expired' };
  if (now < claims.nbf - peerTicketSkewSeconds) return { ok: false, reason: 'not-yet-valid' };
  if (claims.server !== expect.server) return { ok: false, reason: 'other-server' };
  if (typeof expect.digest === 'string' ? claims.digest !== expect.digest : !expect.digest(claims.digest)) return { ok: false, reason: 'other-digest' };
  if (expect.reader !== undefined && claims.reader !== expect.reader) return { ok: false, reason: 'other-reader' };
  return { ok: true, claims };
}

/**
 * A ticket's claims, read without checking its signature: for a client that must name the reader
 * and server a ticket was made for (`cider pull --peer`). Only a peer server's check makes a
 * ticket worth anything.
 */
export function readPeerTicketClaims(ticket: string): PeerTicketClaims | undefined {
  if (ticket.length > maxPeerTicketLength || !ticket.startsWith(prefix)) return undefined;
  const signed = ticket.slice(prefix.length, ticket.lastIndexOf('.'));
  try {
    const parsed = peerTicketClaims.safeParse(JSON.parse(Buffer.from(signed, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
