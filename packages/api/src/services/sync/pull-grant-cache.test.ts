import { describe, expect, it } from 'vitest';
import { PullGrantCache } from './pull-grant-cache.ts';

describe('pull grants shared while fresh', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const bearer = (lifetimeS: number) => ({ kind: 'bearer' as const, token: 't', scope: 'repository:a:pull', expiresAt: new Date(now + lifetimeS * 1000).toISOString() });

  it('hands out a bearer token until a minute before it expires', () => {
    const cache = new PullGrantCache();
    cache.set('k', bearer(300), now);
    expect(cache.get('k', now + 239_000)).toEqual(bearer(300));
    expect(cache.get('k', now + 241_000)).toBeUndefined();
  });

  it('never keeps a token that has less than a minute left', () => {
    const cache = new PullGrantCache();
    cache.set('k', bearer(30), now);
    expect(cache.get('k', now)).toBeUndefined();
  });

  it('believes "basic" and "anonymous" for a minute', () => {
    const cache = new PullGrantCache();
    cache.set('b', { kind: 'basic' }, now);
    cache.set('a', { kind: 'anonymous' }, now);
    expect(cache.get('b', now + 59_000)).toEqual({ kind: 'basic' });
    expect(cache.get('a', now + 61_000)).toBeUndefined();
  });

  it('holds at most 1,000 entries, dropping the oldest', () => {
    const cache = new PullGrantCache();
    for (let i = 0; i <= 1_000; i++) cache.set(`k${i}`, bearer(300), now);
    expect(cache.get('k0', now)).toBeUndefined();
    expect(cache.get('k1', now)).toBeDefined();
    expect(cache.get('k1000', now)).toBeDefined();
  });

  it('issues one grant for many jobs asking at once, and again once a failed issue is over', async () => {
    const cache = new PullGrantCache();
    let issued = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const issue = async () => {
      issued++;
      await gate;
      return { kind: 'basic' as const };
    };
    const asks = Array.from({ length: 100 }, () => cache.fetch('k', issue));
    release();
    expect(await Promise.all(asks)).toEqual(Array(100).fill({ kind: 'basic' }));
    expect(issued).toBe(1);
    await expect(cache.fetch('x', () => Promise.reject(new Error('token service down')))).rejects.toThrow('token service down');
    expect(await cache.fetch('x', async () => ({ kind: 'anonymous' as const }))).toEqual({ kind: 'anonymous' });
  });
});
