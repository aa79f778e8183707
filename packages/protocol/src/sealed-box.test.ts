import { describe, expect, it } from 'vitest';
import { generateNodeKeyPair, open, seal } from './sealed-box.ts';

describe('sealed boxes', () => {
  it('opens only with the recipient key and the context it was sealed for', () => {
    const node = generateNodeKeyPair();
    const other = generateNodeKeyPair();
    const box = seal(node.publicKey, 'hunter2', 'cider grant job-1');
    expect(box).not.toContain('hunter2');
    expect(open(node, box, 'cider grant job-1')).toBe('hunter2');
    expect(() => open(other, box, 'cider grant job-1')).toThrow(/does not open/);
    expect(() => open(node, box, 'cider grant job-2')).toThrow(/does not open/);
  });

  it('uses a fresh ephemeral key per box and detects tampering', () => {
    const node = generateNodeKeyPair();
    const a = seal(node.publicKey, 'same', 'ctx');
    const b = seal(node.publicKey, 'same', 'ctx');
    expect(a).not.toBe(b);
    const bytes = Buffer.from(a, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => open(node, bytes.toString('base64url'), 'ctx')).toThrow(/does not open/);
    expect(() => open(node, 'AA', 'ctx')).toThrow(/known version/);
  });

  it('refuses a public key that is not 32 raw bytes', () => {
    expect(() => seal('not-a-key', 'x', 'ctx')).toThrow(/X25519/);
  });
});
