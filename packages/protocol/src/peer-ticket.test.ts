import { randomBytes, randomUUID, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkPeerTicket, issuePeerTicket, maxPeerTicketLength, peerTicketPublicKey, peerTicketSigningKey, peerTicketSkewSeconds } from './peer-ticket.ts';

const secret = randomBytes(32);
const key = peerTicketSigningKey(secret);
const publicKey = peerTicketPublicKey(key);
const reader = randomUUID();
const server = randomUUID();
const digest = `sha256:${'a'.repeat(64)}`;
const now = new Date('2026-11-26T12:00:00Z');
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
const ticket = issuePeerTicket(key, { reader, server, digest }, { now, seconds: 600 });
const expectFor = { publicKey, server, digest, reader, now };

/** A ticket with the given claims, signed properly: only its content can make it wrong. */
function signedWith(claims: unknown): string {
  const signed = `cpt1.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signed}.${sign(null, Buffer.from(signed), key).toString('base64url')}`;
}

describe('peer tickets', () => {
  it('are honoured by the server they name, for their digest and reader, within their window', () => {
    expect(checkPeerTicket(ticket, expectFor)).toEqual({ ok: true, claims: { reader, server, digest, nbf: now.getTime() / 1000, exp: now.getTime() / 1000 + 600 } });
    expect(checkPeerTicket(ticket, { ...expectFor, now: at(600 + peerTicketSkewSeconds) }).ok).toBe(true);
    expect(checkPeerTicket(ticket, { ...expectFor, now: at(-peerTicketSkewSeconds) }).ok).toBe(true);
    // A server that does not know who asks still checks everything else.
    expect(checkPeerTicket(ticket, { publicKey, server, digest, now }).ok).toBe(true);
    expect(ticket.length).toBeLessThan(maxPeerTicketLength);
  });

  it('are signed with one key per secret: every control process of a site issues tickets every peer accepts', () => {
    const again = peerTicketSigningKey(Buffer.from(secret));
    expect(peerTicketPublicKey(again)).toBe(publicKey);
    expect(checkPeerTicket(issuePeerTicket(again, { reader, server, digest }, { now }), expectFor).ok).toBe(true);
    expect(peerTicketPublicKey(peerTicketSigningKey(randomBytes(32)))).not.toBe(publicKey);
    expect(() => peerTicketSigningKey(randomBytes(16))).toThrow(/at least 32 bytes/);
  });

  it('refuses a missing, expired, not yet valid, foreign-server, wrong-digest or other-reader ticket, saying which', () => {
    expect(checkPeerTicket(undefined, expectFor)).toEqual({ ok: false, reason: 'missing' });
    expect(checkPeerTicket('', expectFor)).toEqual({ ok: false, reason: 'missing' });
    expect(checkPeerTicket(ticket, { ...expectFor, now: at(600 + peerTicketSkewSeconds + 1) })).toEqual({ ok: false, reason: 'expired' });
    expect(checkPeerTicket(ticket, { ...expectFor, now: at(-peerTicketSkewSeconds - 1) })).toEqual({ ok: false, reason: 'not-yet-valid' });
    expect(checkPeerTicket(ticket, { ...expectFor, server: randomUUID() })).toEqual({ ok: false, reason: 'other-server' });
    expect(checkPeerTicket(ticket, { ...expectFor, digest: `sha256:${'b'.repeat(64)}` })).toEqual({ ok: false, reason: 'other-digest' });
    expect(checkPeerTicket(ticket, { ...expectFor, reader: randomUUID() })).toEqual({ ok: false, reason: 'other-reader' });
  });

  it('refuses a ticket signed by another control plane, or altered in any byte', () => {
    const foreign = issuePeerTicket(peerTicketSigningKey(randomBytes(32)), { reader, server, digest }, { now });
    expect(checkPeerTicket(foreign, expectFor)).toEqual({ ok: false, reason: 'bad-signature' });
    // The claims rewritten to another digest, the signature kept.
    const [head, claims, signature] = ticket.split('.');
    const decoded = JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const swapped = `${head}.${Buffer.from(JSON.stringify({ ...decoded, digest: `sha256:${'b'.repeat(64)}` })).toString('base64url')}.${signature}`;
    expect(checkPeerTicket(swapped, { ...expectFor, digest: `sha256:${'b'.repeat(64)}` })).toEqual({ ok: false, reason: 'bad-signature' });
    // Every seventh character flipped is refused (not the last: base64url's spare low bits there
    // may decode to the same signature, which is no forgery).
    for (let i = 0; i < ticket.length - 1; i += 7) {
      const flipped = ticket.slice(0, i) + (ticket[i] === 'A' ? 'B' : 'A') + ticket.slice(i + 1);
      if (flipped !== ticket) expect(checkPeerTicket(flipped, expectFor).ok).toBe(false);
    }
  });

  it('refuses malformed tickets without throwing: wrong version, oversized, no signature, claims of the wrong shape', () => {
    const cases = [
      'cpt2.' + ticket.slice(5),
      'cpt1.' + 'A'.repeat(maxPeerTicketLength),
      'cpt1.',
      'cpt1.e30',
      'not a ticket',
      ticket.replace(/\.[^.]+$/, '.'),
      signedWith({ reader, server, digest, nbf: 1, exp: 2, admin: true }),
      signedWith({ reader: 'node-1', server, digest, nbf: 1, exp: 2 }),
      signedWith('just a string'),
    ];
    for (const bad of cases) {
      const result = checkPeerTicket(bad, expectFor);
      expect(result.ok, bad.slice(0, 40)).toBe(false);
      expect(['malformed', 'bad-signature']).toContain((result as { reason: string }).reason);
    }
    expect(checkPeerTicket(signedWith({ reader, server, digest, nbf: 1, exp: 2, admin: true }), expectFor)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkPeerTicket(ticket, { ...expectFor, publicKey: 'short' })).toEqual({ ok: false, reason: 'malformed' });
  });
});
