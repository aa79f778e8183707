import { describe, expect, it } from 'vitest';
import { parseChallenges } from './challenge.ts';

describe('parseChallenges (RFC 7235 §4.1)', () => {
  it('reads a Bearer challenge whose quoted scope holds commas', () => {
    expect(parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' } },
    ]);
  });

  it('splits several challenges in one header, with or without parameters', () => {
    expect(parseChallenges('Negotiate, Basic realm="simple, with comma", Bearer realm="https://t/token",service=reg, error="insufficient_scope"')).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'simple, with comma' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'reg', error: 'insufficient_scope' } },
    ]);
  });

  it('follows the RFC 7235 example with escaped quotes and spaces around "="', () => {
    expect(parseChallenges('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm = "simple"')).toEqual([
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ]);
  });

  it('reads every header of a repeated WWW-Authenticate, scheme and names case-insensitively', () => {
    expect(parseChallenges(['BASIC Realm="a"', 'bearer REALM="b",Service="c"'])).toEqual([
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'b', service: 'c' } },
    ]);
  });

  it('returns nothing for a missing or empty header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});
