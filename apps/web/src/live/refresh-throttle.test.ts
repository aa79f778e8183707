// The refetch throttle with fake timers: one quick refetch for a lone change, one per 3 s in a storm.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefreshThrottle } from './refresh-throttle.ts';

describe('RefreshThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('refetches 150 ms after a lone change', () => {
    const run = vi.fn();
    const throttle = new RefreshThrottle(run);
    throttle.request();
    vi.advanceTimersByTime(149);
    expect(run).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('refetches at most once per 3 s while 67 events a second arrive', () => {
    const run = vi.fn();
    const throttle = new RefreshThrottle(run);
    for (let ms = 0; ms < 30_000; ms += 15) {
      throttle.request();
      vi.advanceTimersByTime(15);
    }
    // The first after 150 ms, then one every 3 s: 10 in 30 s.
    expect(run).toHaveBeenCalledTimes(10);
  });

  it('after a quiet spell a change shows quickly again', () => {
    const run = vi.fn();
    const throttle = new RefreshThrottle(run);
    throttle.request();
    vi.advanceTimersByTime(150);
    vi.advanceTimersByTime(5_000);
    throttle.request();
    vi.advanceTimersByTime(150);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('a change soon after a refetch waits out the gap, and is not lost', () => {
    const run = vi.fn();
    const throttle = new RefreshThrottle(run);
    throttle.request();
    vi.advanceTimersByTime(150);
    throttle.request();
    vi.advanceTimersByTime(2_999);
    expect(run).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it('runs nothing once cancelled', () => {
    const run = vi.fn();
    const throttle = new RefreshThrottle(run);
    throttle.request();
    throttle.cancel();
    vi.advanceTimersByTime(10_000);
    expect(run).not.toHaveBeenCalled();
  });
});
