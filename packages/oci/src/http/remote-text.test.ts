import { describe, expect, it } from 'vitest';
import { errorCodeOf, printable } from './remote-text.ts';

describe('registry text in messages', () => {
  it('drops escape sequences and control characters, collapses whitespace', () => {
    expect(printable('\u001b[31mred\u001b[0m \u001b]0;title\u0007text\r\nForged: line\u0000\u0008 end\u202e')).toBe('red text Forged: line end');
  });

  it('cuts long text with an ellipsis and never scans more than it needs', () => {
    expect(printable('x'.repeat(10_000), 20)).toBe(`${'x'.repeat(19)}…`);
    expect(printable('short')).toBe('short');
  });

  it('keeps distribution error codes and replaces anything else', () => {
    expect(errorCodeOf('MANIFEST_UNKNOWN')).toBe('MANIFEST_UNKNOWN');
    expect(errorCodeOf('\u001b[31mEVIL')).toBe('UNKNOWN');
    expect(errorCodeOf({ nested: true })).toBe('UNKNOWN');
    expect(errorCodeOf('A'.repeat(65))).toBe('UNKNOWN');
  });
});
