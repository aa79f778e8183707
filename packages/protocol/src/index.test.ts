import { describe, expect, it } from 'vitest';
import { agentMessage, controlMessage, decode, encode, syncJobKey } from './index.ts';

const digest = `sha256:${'ab'.repeat(32)}`;

describe('protocol', () => {
  it('round-trips messages', () => {
    const message = { type: 'sync' as const, jobId: 'j1', digest, reference: 'r/x:1', registry: { host: 'h', plainHttp: true } };
    expect(decode(controlMessage, encode(message))).toEqual({ ok: true, value: message });
  });

  it('rejects malformed frames with a readable reason', () => {
    expect(decode(agentMessage, 'not json')).toEqual({ ok: false, error: 'frame is not JSON' });
    const bad = decode(agentMessage, JSON.stringify({ type: 'sync.done', jobId: 'j', digest: 'sha256:xyz' }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatch(/digest/);
    expect(decode(agentMessage, JSON.stringify({ type: 'nope' })).ok).toBe(false);
  });

  it('makes sync job keys BullMQ accepts', () => {
    const key = syncJobKey('node-1', digest);
    expect(key.split(':')).toHaveLength(3);
    expect(key).toBe(`sync:node-1:sha256-${'ab'.repeat(32)}`);
  });
});
