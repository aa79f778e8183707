// Sign-in throttling: every attempt is counted in Redis BEFORE the password is checked, in one
// Lua script that also refuses attempts arriving before the next allowed time. Counting first
// means parallel guesses can't slip through between a read and a write: after the free failures,
// at most one attempt per delay gets to the (expensive) password check.
//
// Policy (why these numbers):
// - Two counters per attempt: the account (normalised email, hashed) and the client address.
//   After `freeFailures` failures, each further attempt must wait baseDelay * 2^(n - free),
//   capped at maxDelay.
// - The account's delay caps low (30 s): the worst an attacker can do to a real admin by
//   failing on purpose is make them wait half a minute. Nothing is ever locked for good; the
//   counter is forgotten `forgetAfterMs` after the last attempt.
// - The address's delay grows much further (15 min): the guesser's own address is slowed far
//   more than any account, so spraying many accounts from one place is slow too.
// - A successful sign-in clears the account's counter and takes back its own count from the
//   address; the address's waiting time stays, so signing in to your own account between
//   guesses doesn't buy more guesses.
// - Unknown emails are counted exactly like real ones (the key is the email, not the user), so
//   being throttled says nothing about whether an account exists.
// - Refused attempts are not counted: refusing is cheap, and counting them would let a flood
//   keep an account at its cap forever without ever trying a password.
import { createHash } from 'node:crypto';
import type { ServiceDeps } from '../deps.ts';

export interface ThrottleTier {
  /** Failures allowed before delays start. */
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The counter is dropped this long after the last counted attempt. */
  forgetAfterMs: number;
}

export interface SignInPolicy {
  account: ThrottleTier;
  address: ThrottleTier;
  /** The clock, in ms: tests move it instead of sleeping. */
  now(): number;
}

export const defaultSignInPolicy: SignInPolicy = {
  account: { freeFailures: 5, baseDelayMs: 1_000, maxDelayMs: 30_000, forgetAfterMs: 15 * 60_000 },
  address: { freeFailures: 10, baseDelayMs: 1_000, maxDelayMs: 15 * 60_000, forgetAfterMs: 60 * 60_000 },
  now: () => Date.now(),
};

// KEYS: account, address. ARGV: now, then per key: freeFailures, baseDelayMs, maxDelayMs, forgetAfterMs.
// Returns 0 when the attempt was counted and may go on, else the ms to wait (nothing counted).
const claimScript = `
local now = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS do
  local nextAt = tonumber(redis.call('HGET', KEYS[i], 'next') or '0')
  if nextAt - now > wait then wait = nextAt - now end
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  local o = 1 + (i - 1) * 4
  local free = tonumber(ARGV[o + 1])
  local base = tonumber(ARGV[o + 2])
  local max = tonumber(ARGV[o + 3])
  local forget = tonumber(ARGV[o + 4])
  local n = redis.call('HINCRBY', KEYS[i], 'failures', 1)
  local delay = 0
  if n >= free then delay = math.min(max, base * 2 ^ math.min(n - free, 60)) end
  redis.call('HSET', KEYS[i], 'next', string.format('%.0f', now + delay))
  redis.call('PEXPIRE', KEYS[i], string.format('%.0f', math.max(forget, delay)))
end
return 0
`;

// Takes back the attempt's own count after a success: the account starts over, the address
// keeps its waiting time.
const forgiveScript = `
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 and tonumber(redis.call('HGET', KEYS[2], 'failures') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'failures', -1)
end
return 0
`;

export interface AttemptKeys {
  account: string;
  address: string;
}

export function attemptKeys(deps: ServiceDeps, email: string, clientAddress: string | undefined): AttemptKeys {
  // Hashed, so any email (up to the input limit) makes a short key with no odd characters.
  const account = createHash('sha256').update(email).digest('hex');
  // One hash tag, so both keys of a script land in one slot on Redis Cluster.
  return {
    account: `${deps.prefix}:{signin}:account:${account}`,
    address: `${deps.prefix}:{signin}:address:${clientAddress ?? 'unknown'}`,
  };
}

/** Counts an attempt before its password is checked; returns the ms to wait when refused (0 = go on). */
export async function claimSignInAttempt(deps: ServiceDeps, policy: SignInPolicy, keys: AttemptKeys): Promise<number> {
  const tier = (t: ThrottleTier) => [t.freeFailures, t.baseDelayMs, t.maxDelayMs, t.forgetAfterMs].map(String);
  const wait = await deps.redis.eval(claimScript, 2, keys.account, keys.address, String(Math.floor(policy.now())), ...tier(policy.account), ...tier(policy.address));
  return Number(wait);
}

export async function forgiveSignInAttempt(deps: ServiceDeps, keys: AttemptKeys): Promise<void> {
  await deps.redis.eval(forgiveScript, 2, keys.account, keys.address);
}

/**
 * Limits how many password checks run at once in this process. scrypt runs on libuv's thread
 * pool (4 threads by default), which file and DNS work share: a flood of sign-ins must not take
 * it over, so attempts beyond the limit are refused at once instead of queueing.
 */
export class VerificationSlots {
  private inUse = 0;
  constructor(readonly size: number) {}

  /** A release function, or undefined when every slot is taken. */
  tryAcquire(): (() => void) | undefined {
    if (this.inUse >= this.size) return undefined;
    this.inUse += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= 1;
    };
  }

  get busy(): number {
    return this.inUse;
  }
}

export const defaultVerificationSlots = new VerificationSlots(2);
