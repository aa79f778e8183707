// The shared /metrics plumbing: the listen addresses operators write, and the token check.
import { describe, expect, it } from 'vitest';
import { bearerMatches, parseListen } from './metrics-endpoint.ts';

describe('metrics endpoint settings', () => {
  it('reads host:port, [v6]:port and :port (every interface), and refuses anything else with an example', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListen('metrics.internal:0')).toEqual({ host: 'metrics.internal', port: 0 });
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:65536', '::1:9464', 'host:port', '']) expect(() => parseListen(bad), bad).toThrow(/expected host:port \(e\.g\. 127\.0\.0\.1:9464/);
  });

  it('matches the bearer token exactly', () => {
    const token = 'a-token-long-enough-1234';
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    for (const header of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${token}`, `Bearer ${token} extra`]) expect(bearerMatches(header, token), String(header)).toBe(false);
  });
});
