import { describe, expect, it } from 'vitest';
import { nextLink } from './paginate.ts';

describe('nextLink (RFC 8288)', () => {
  it('finds rel=next quoted or not, among several links and relation types', () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"')).toBe('/v2/a/tags/list?n=2&last=b');
    expect(nextLink('</v2/_catalog?last=x>;rel=next')).toBe('/v2/_catalog?last=x');
    expect(nextLink('</first>; rel="first", </p2?a=1,2>; rel="prefetch next"')).toBe('/p2?a=1,2');
    expect(nextLink(['</prev>; rel="prev"', '</n>; rel="next"'])).toBe('/n');
  });

  it('finds nothing when no link is rel=next', () => {
    expect(nextLink(undefined)).toBeUndefined();
    expect(nextLink('</x>; rel="nextish"')).toBeUndefined();
    expect(nextLink('</x>; title="next"')).toBeUndefined();
    expect(nextLink('garbage')).toBeUndefined();
  });
});
