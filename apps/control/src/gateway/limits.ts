// Small limits the gateway puts on what callers can make it do: how many credential checks run
// against the database at once, and how fast one agent may send messages.

/** Too many callers are already waiting for a slot: refuse rather than queue without bound. */
export class SaturatedError extends Error {
  override name = 'SaturatedError';
}

/**
 * A counting semaphore with a bounded wait queue. Unauthenticated work (upgrades, enrollments)
 * goes through one, so a burst of bad requests holds at most `limit` database connections and
 * the rest of the control plane keeps its pool.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly limit: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      if (this.waiting.length >= this.maxWaiting) throw new SaturatedError('too many requests waiting');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * A token bucket: `burst` messages at once, `perSecond` sustained. A real agent sends a few
 * messages a second (progress every 0.5 s per job, a heartbeat every 15 s).
 */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
