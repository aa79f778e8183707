// Sign-in throttling against real PostgreSQL and Redis, with a clock the test moves instead of
// sleeping: delays grow after the free failures, early attempts are refused without being counted,
// the account's delay caps low while the guessing address's grows, a success resets the account,
// unknown emails get exactly the same answers, and a flood is turned away by the slot limit.
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../crypto.ts';
import { testPassword, useRouterHarness } from '../../../testing/test-context.ts';
import { RetryLaterError, signIn, unknownUserHash, type SignInOptions } from './auth.ts';
import { attemptKeys, defaultSignInPolicy, VerificationSlots, type SignInPolicy } from './sign-in-throttle.ts';

const harness = useRouterHarness();

/** The default policy's shape (5 free, 1 s doubling, 30 s account cap, 15 min address cap) on a movable clock. */
function testPolicy(): SignInPolicy & { clock: number } {
  const policy = { ...defaultSignInPolicy, clock: 1_000_000_000_000, now: () => policy.clock };
  return policy;
}

type Outcome = { ok: true } | { ok: false; code: string; message: string; retryAfterS?: number };

async function attempt(email: string, password: string, options: SignInOptions): Promise<Outcome> {
  try {
    await signIn(harness.deps, { email, password }, options);
    return { ok: true };
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { ok: false, code, message, ...(error instanceof RetryLaterError ? { retryAfterS: error.retryAfterS } : {}) };
  }
}

async function failures(key: string): Promise<number> {
  return Number((await harness.deps.redis.hget(key, 'failures')) ?? 0);
}

/**
 * Wrong passwords, each sent as soon as it is allowed (and once more a moment too early, which
 * must be refused and not counted). Returns the refusals that imposed each wait.
 */
async function guess(times: number, email: string, options: SignInOptions & { policy: SignInPolicy & { clock: number } }): Promise<Outcome[]> {
  const delays: Outcome[] = [];
  const keys = attemptKeys(harness.deps, email, options.clientAddress);
  for (let i = 1; i <= times; i += 1) {
    let outcome = await attempt(email, `wrong guess ${i}`, options);
    while (!outcome.ok && outcome.code === 'TOO_MANY_REQUESTS') {
      const counted = await failures(keys.account);
      options.policy.clock += outcome.retryAfterS! * 1000 - 1;
      // Still a millisecond early: refused, not counted.
      expect(await attempt(email, `early ${i}`, options)).toMatchObject({ ok: false, code: 'TOO_MANY_REQUESTS' });
      expect(await failures(keys.account)).toBe(counted);
      options.policy.clock += 1;
      delays.push(outcome);
      outcome = await attempt(email, `wrong guess ${i}`, options);
    }
    expect(outcome).toEqual({ ok: false, code: 'UNAUTHENTICATED', message: 'Wrong email or password.' });
  }
  return delays;
}

describe('sign-in throttling (real PostgreSQL, Redis)', () => {
  it('30 wrong passwords from one address: delays double after 5, the account waits at most 30 s, the right password still works', async () => {
    const admin = await harness.user('admin');
    const policy = testPolicy();
    const delays = await guess(30, admin.email, { policy, clientAddress: '203.0.113.7' });
    const seconds = delays.map((d) => (d.ok ? 0 : (d.retryAfterS ?? 0)));
    // After failures 5..9 the account decides (1, 2, 4, 8, 16 s); from 10 on the address's own
    // counter (10 free) takes over and keeps doubling past the account's 30 s cap, up to 15 min.
    expect(seconds.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 30]);
    expect(Math.max(...seconds)).toBe(900);
    for (let i = 1; i < seconds.length; i += 1) expect(seconds[i]).toBeGreaterThanOrEqual(seconds[i - 1]!);
    for (const delay of delays) {
      const s = delay.ok ? 0 : delay.retryAfterS!;
      expect(delay).toMatchObject({ message: `Too many failed sign-ins. Try again in ${s === 1 ? '1 second' : `${s} seconds`}.` });
    }

    // The real admin, from their own address, waits at most the account's 30 s: no lockout.
    const elsewhere = await attempt(admin.email, testPassword, { policy, clientAddress: '198.51.100.20' });
    expect(elsewhere).toMatchObject({ ok: false, code: 'TOO_MANY_REQUESTS' });
    expect((elsewhere as { retryAfterS: number }).retryAfterS).toBeLessThanOrEqual(30);
    policy.clock += 30_000;
    expect(await attempt(admin.email, testPassword, { policy, clientAddress: '198.51.100.20' })).toEqual({ ok: true });
    // The success started the account over; the guessing address still waits its own time.
    const keys = attemptKeys(harness.deps, admin.email, '203.0.113.7');
    expect(await harness.deps.redis.exists(keys.account)).toBe(0);
    expect(await attempt(admin.email, testPassword, { policy, clientAddress: '203.0.113.7' })).toMatchObject({ ok: false, code: 'TOO_MANY_REQUESTS' });
  });

  it('an unknown email gets exactly the answers a real account gets', async () => {
    const real = await harness.user('member');
    const known = await guess(12, real.email, { policy: testPolicy(), clientAddress: '203.0.113.8' });
    const unknown = await guess(12, 'nobody-here@example.com', { policy: testPolicy(), clientAddress: '203.0.113.9' });
    expect(known.length).toBeGreaterThan(5);
    expect(unknown).toEqual(known);
    // Same work per attempt: the stand-in hash has the parameters every real hash has.
    const params = (hash: string) => hash.split('$').slice(0, 4).join('$');
    expect(params(unknownUserHash)).toBe(params(await hashPassword('anything at all')));
    expect(Buffer.from(unknownUserHash.split('$')[5]!, 'base64')).toHaveLength(64);
  });

  it('parallel guesses for one account: the count comes first, so only the free ones reach the password check', async () => {
    const member = await harness.user('member');
    const policy = testPolicy();
    const slots = new VerificationSlots(50);
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => attempt(member.email, `parallel ${i}`, { policy, slots, clientAddress: `192.0.2.${i + 1}` })));
    // Failures 1..5 were let through (the 5th sets the first delay); everything after waits.
    expect(outcomes.filter((o) => !o.ok && o.code === 'UNAUTHENTICATED')).toHaveLength(5);
    expect(outcomes.filter((o) => !o.ok && o.code === 'TOO_MANY_REQUESTS')).toHaveLength(35);
    expect(await failures(attemptKeys(harness.deps, member.email, undefined).account)).toBe(5);
  });

  it('a flood gets quick 429s from the verification slots, is not counted, and other requests still get answers', async () => {
    const member = await harness.user('member');
    const policy = testPolicy();
    const slots = new VerificationSlots(2);
    let mostBusy = 0;
    const watch = setInterval(() => (mostBusy = Math.max(mostBusy, slots.busy)), 1);
    const flood = Promise.all(Array.from({ length: 60 }, (_, i) => attempt(`flood-${i}@example.com`, 'guess', { policy, slots, clientAddress: `192.0.2.${i + 1}` })));
    // While the flood is on, an ordinary request (a database read) is answered.
    const other = harness.caller(member).tokens.api.list();
    const [outcomes, me] = await Promise.all([flood, other]);
    clearInterval(watch);
    expect(me).toEqual([]);
    const busy = outcomes.filter((o) => !o.ok && o.code === 'TOO_MANY_REQUESTS');
    expect(busy.length).toBeGreaterThanOrEqual(58);
    expect(busy[0]).toMatchObject({ message: 'The server is busy checking other sign-ins. Try again in a second.', retryAfterS: 1 });
    expect(mostBusy).toBeLessThanOrEqual(2);
    expect(slots.busy).toBe(0);
    // Turned away by a slot means never counted against the account.
    const counted = await Promise.all(Array.from({ length: 60 }, (_, i) => failures(attemptKeys(harness.deps, `flood-${i}@example.com`, undefined).account)));
    expect(counted.reduce((a, b) => a + b, 0)).toBe(60 - busy.length);
    // And once the flood is over, the member signs in at once.
    expect(await attempt(member.email, testPassword, { policy, slots })).toEqual({ ok: true });
  });
});
