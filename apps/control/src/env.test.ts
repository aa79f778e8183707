// The control plane's metrics settings as operators write them (compose files pass empty strings for unset variables).
import { describe, expect, it } from 'vitest';
import { parseControlEnv } from './env.ts';

const base = { DATABASE_URL: 'postgresql://cider@127.0.0.1:5432/cider', CIDER_SECRET_KEY: 'k'.repeat(44) };

describe('control plane environment: metrics', () => {
  it('leaves metrics off when unset or empty, and reads a listen address and a token', () => {
    for (const env of [base, { ...base, CIDER_METRICS_TOKEN: '', CIDER_METRICS_LISTEN: '' }]) {
      const parsed = parseControlEnv(env);
      expect(parsed.CIDER_METRICS_TOKEN).toBeUndefined();
      expect(parsed.CIDER_METRICS_LISTEN).toBeUndefined();
    }
    expect(parseControlEnv({ ...base, CIDER_METRICS_TOKEN: 't'.repeat(24), CIDER_METRICS_LISTEN: '0.0.0.0:9464' })).toMatchObject({
      CIDER_METRICS_TOKEN: 't'.repeat(24),
      CIDER_METRICS_LISTEN: { host: '0.0.0.0', port: 9464 },
    });
  });

  it('refuses a short token and an address without a port, saying what to write', () => {
    expect(() => parseControlEnv({ ...base, CIDER_METRICS_TOKEN: 'short' })).toThrow(/CIDER_METRICS_TOKEN: must be at least 16 characters/);
    expect(() => parseControlEnv({ ...base, CIDER_METRICS_LISTEN: '127.0.0.1' })).toThrow(/CIDER_METRICS_LISTEN: expected host:port/);
  });
});
