// What a request says about its sender, believed only as far as CIDER_TRUST_PROXY says.
import { describe, expect, it } from 'vitest';
import { addressBucket, clientAddress, isHttps, parseTrustProxy, requestHosts, safeReturnPath } from './request-facts.ts';

const request = (headers: Record<string, string>, url = 'http://dashboard.test/api/trpc/auth.signIn') => new Request(url, { headers });

describe('request facts', () => {
  it('reads CIDER_TRUST_PROXY as a number of proxies, and refuses nonsense', () => {
    expect([undefined, '', 'false', '0', 'true', '2'].map(parseTrustProxy)).toEqual([0, 0, 0, 0, 1, 2]);
    expect(() => parseTrustProxy('yes')).toThrow(/CIDER_TRUST_PROXY must be true, false or the number/);
    expect(() => parseTrustProxy('-1')).toThrow();
  });

  it('takes the address the outermost trusted proxy saw, not what the client claimed before it', () => {
    const forwarded = request({ 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2' });
    expect(clientAddress(forwarded, 1)).toBe('10.0.0.2');
    expect(clientAddress(forwarded, 2)).toBe('203.0.113.9');
    expect(clientAddress(forwarded, 5)).toBe('6.6.6.6');
    // Without a proxy: the socket's address as server.mjs stamped it, whatever the client forged.
    expect(clientAddress(request({ 'x-cider-peer': '::ffff:192.0.2.7', 'x-forwarded-for': '198.51.100.4' }), 0)).toBe('192.0.2.7');
    // Behind trusted proxies the peer is the proxy itself, so the proxies' entry wins.
    expect(clientAddress(request({ 'x-cider-peer': '10.0.0.2', 'x-forwarded-for': '6.6.6.6, 203.0.113.9' }), 1)).toBe('203.0.113.9');
    // Without server.mjs (next dev), the last entry stands in.
    expect(clientAddress(request({ 'x-forwarded-for': '198.51.100.4' }), 0)).toBe('198.51.100.4');
    expect(clientAddress(request({}), 0)).toBeUndefined();
    expect(clientAddress(request({ 'x-forwarded-for': 'not-an-address' }), 1)).toBeUndefined();
  });

  it('buckets IPv6 by /64 and unwraps IPv4-mapped addresses', () => {
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('2001:db8:1:2::99')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('[2001:db8::1]:443')).toBe('2001:db8:0:0::/64');
    expect(addressBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressBucket('192.0.2.1:5555')).toBe('192.0.2.1');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(addressBucket(`${'1'.repeat(5000)}`)).toBeUndefined();
  });

  it('believes X-Forwarded-Proto only from a trusted proxy', () => {
    expect(isHttps(request({ 'x-forwarded-proto': 'https' }), 0)).toBe(false);
    expect(isHttps(request({ 'x-forwarded-proto': 'https' }), 1)).toBe(true);
    expect(isHttps(request({ 'x-forwarded-proto': 'https, http' }), 1)).toBe(false);
    expect(isHttps(request({}, 'https://dashboard.test/'), 0)).toBe(true);
  });

  it('lists Host and X-Forwarded-Host as the hosts a request was addressed to', () => {
    expect(requestHosts(request({ host: 'Dashboard.test:3000', 'x-forwarded-host': 'cider.example.com' }))).toEqual(['dashboard.test:3000', 'cider.example.com']);
  });
});

describe('safeReturnPath', () => {
  it('keeps a page of this site, with its query', () => {
    expect(safeReturnPath('/jobs')).toBe('/jobs');
    expect(safeReturnPath('/jobs?node=mac-1&state=failed')).toBe('/jobs?node=mac-1&state=failed');
    expect(safeReturnPath('/projects/0b1c/pins')).toBe('/projects/0b1c/pins');
  });

  it('sends anything else to the overview', () => {
    for (const raw of [
      undefined,
      null,
      '',
      'jobs',
      'https://evil.example/',
      '//evil.example/path',
      '/\\evil.example',
      '/jobs\nLocation: x',
      '/ jobs',
      '/sign-in',
      '/sign-in?next=/jobs',
      '/api/trpc/auth.me',
      `/${'a'.repeat(3000)}`,
    ]) {
      expect(safeReturnPath(raw), String(raw)).toBe('/');
    }
  });
});
