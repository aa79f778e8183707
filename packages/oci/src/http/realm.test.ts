import { describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../errors.ts';
import { checkRealm } from './realm.ts';

const secureRegistry = new URL('https://registry.example.com');
const plainRegistry = new URL('http://registry.lan:5000');

function refusal(realm: string, base: URL): string {
  try {
    checkRealm('registry.example.com', realm, base);
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedError);
    return (error as Error).message;
  }
  throw new Error(`${realm} was accepted`);
}

describe('Bearer realms (where the stored credential may go)', () => {
  it('accepts https realms anywhere, and plain http only on a plain-http registry\'s own host', () => {
    expect(checkRealm('r', 'https://auth.example.com/token', secureRegistry).href).toBe('https://auth.example.com/token');
    expect(checkRealm('r', 'https://127.0.0.1:8443/token', secureRegistry).hostname).toBe('127.0.0.1');
    expect(checkRealm('r', 'http://registry.lan:5001/token', plainRegistry).port).toBe('5001');
  });

  it('refuses plain http on another host, or while the registry itself uses https', () => {
    expect(refusal('http://auth.lan/token', plainRegistry)).toBe(
      'Registry registry.example.com named the token service http://auth.lan/token, which Cider refuses: plain http is allowed only on the registry\'s own host (registry.lan); serve the token service over https. No credentials were sent to it.',
    );
    expect(refusal('http://registry.example.com/token', secureRegistry)).toMatch(/it is plain http while the registry uses https/);
  });

  it('refuses link-local and metadata realms even over https, other schemes, and realms carrying credentials', () => {
    expect(refusal('https://169.254.169.254/latest/api/token', secureRegistry)).toMatch(/169\.254\.169\.254 is a link-local, cloud metadata or unspecified address/);
    expect(refusal('http://169.254.169.254/token', new URL('http://169.254.169.254'))).toMatch(/link-local/);
    expect(refusal('https://metadata.google.internal/token', secureRegistry)).toMatch(/metadata\.google\.internal is a cloud metadata service/);
    expect(refusal('file:///etc/passwd', secureRegistry)).toMatch(/only https is allowed, not file:/);
    expect(refusal('https://user:pw@auth.example.com/token', secureRegistry)).toMatch(/carries a user name or password of its own/);
    expect(refusal('not a url', secureRegistry)).toMatch(/it is not a valid URL/);
  });

  it('shows a hostile realm without its control characters', () => {
    const message = refusal('http://auth.lan/\u001b[2J\u001b[31mtoken\r\nX-Injected: 1', plainRegistry);
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(message).toContain('http://auth.lan/');
  });
});
