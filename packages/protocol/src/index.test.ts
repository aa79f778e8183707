import { describe, expect, it } from 'vitest';
import { agentMessage, controlMessage, decode, encode, enrollRequest, generateNodeKeyPair, hostFacts, maxHeldImages, syncJobKey } from './index.ts';

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

  it('carries a purge with a bounded reason', () => {
    const purge = { type: 'purge' as const, reason: 'decommissioned by admin@example.com' };
    expect(decode(controlMessage, encode(purge))).toEqual({ ok: true, value: purge });
    expect(decode(controlMessage, JSON.stringify({ type: 'purge', reason: 'x'.repeat(501) })).ok).toBe(false);
  });

  it('makes sync job keys BullMQ accepts', () => {
    const key = syncJobKey('node-1', digest);
    expect(key.split(':')).toHaveLength(3);
    expect(key).toBe(`sync:node-1:sha256-${'ab'.repeat(32)}`);
  });

  describe('bounds every field a hostile agent controls', () => {
    const facts = {
      hostname: 'mac',
      os: { platform: 'macOS', release: '24.2.0' },
      architecture: 'arm64',
      cpu: { model: 'M2', cores: 8 },
      memoryBytes: 1,
      disk: { totalBytes: 2, freeBytes: 1 },
      cache: { path: '/c', bytes: 0 },
    };
    const image = { digest, sizeBytes: 1, verifiedAt: '2026-11-26T10:00:00.000Z' };
    const hello = { type: 'hello', protocol: 2, agentVersion: '1', publicKey: generateNodeKeyPair().publicKey, facts, images: [image] };
    const parse = (message: unknown) => decode(agentMessage, JSON.stringify(message));

    it('accepts a well-formed hello, filling defaults', () => {
      const ok = parse(hello);
      expect(ok.ok).toBe(true);
      if (ok.ok && ok.value.type === 'hello') expect(ok.value.facts.conditions).toEqual([]);
    });

    it.each([
      ['a date that is not a date', { ...hello, images: [{ ...image, verifiedAt: 'x' }] }],
      ['a negative size', { ...hello, images: [{ ...image, sizeBytes: -1 }] }],
      ['a fractional size', { ...hello, images: [{ ...image, sizeBytes: 1.5 }] }],
      ['a size beyond 2^53', { ...hello, images: [{ ...image, sizeBytes: 2 ** 60 }] }],
      ['a huge hostname', { ...hello, facts: { ...facts, hostname: 'h'.repeat(300) } }],
      ['too many images', { ...hello, images: Array.from({ length: maxHeldImages + 1 }, () => image) }],
      ['too many tags', { ...hello, images: [{ ...image, tags: Array.from({ length: 65 }, (_, i) => `t${i}`) }] }],
      ['a bad public key', { ...hello, publicKey: 'x' }],
      ['a job id with spaces', { type: 'sync.progress', jobId: 'a b', phase: 'queued', bytesDone: 0, bytesTotal: 0 }],
      ['an unknown phase', { type: 'sync.progress', jobId: 'j', phase: 'hacking', bytesDone: 0, bytesTotal: 0 }],
      ['a cancel confirmation for no job id', { type: 'sync.cancelled', jobId: '' }],
      ['a cancel confirmation for an overlong job id', { type: 'sync.cancelled', jobId: 'a'.repeat(65) }],
    ])('rejects %s', (_what, message) => {
      expect(parse(message).ok).toBe(false);
    });

    it("bounds the welcome's drop list, and reads a welcome without one (an older control plane) as dropping nothing", () => {
      const welcome = { type: 'welcome', nodeId: 'n', nodeName: 'mac', heartbeatIntervalMs: 1000, pinned: [digest] };
      const read = decode(controlMessage, JSON.stringify(welcome));
      expect(read.ok && read.value.type === 'welcome' && read.value.drop).toEqual([]);
      expect(decode(controlMessage, JSON.stringify({ ...welcome, drop: ['job-1'] })).ok).toBe(true);
      expect(decode(controlMessage, JSON.stringify({ ...welcome, drop: Array.from({ length: 257 }, (_, i) => `job-${i}`) })).ok).toBe(false);
      expect(decode(controlMessage, JSON.stringify({ ...welcome, drop: ['no spaces allowed'] })).ok).toBe(false);
      expect(parse({ type: 'sync.cancelled', jobId: 'job-1' })).toEqual({ ok: true, value: { type: 'sync.cancelled', jobId: 'job-1' } });
    });

    it('strips NUL characters, which PostgreSQL refuses in text', () => {
      const parsed = hostFacts.parse({ ...facts, hostname: 'mac\u0000-1' });
      expect(parsed.hostname).toBe('mac-1');
    });

    it('bounds enrollment labels', () => {
      const base = { token: 't', name: 'mac-1' };
      expect(enrollRequest.safeParse({ ...base, labels: { pool: 'ci' } }).success).toBe(true);
      expect(enrollRequest.safeParse({ ...base, labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }).success).toBe(false);
      expect(enrollRequest.safeParse({ ...base, labels: { pool: 'v'.repeat(256) } }).success).toBe(false);
      expect(enrollRequest.safeParse({ ...base, name: '../etc' }).success).toBe(false);
    });
  });
});
