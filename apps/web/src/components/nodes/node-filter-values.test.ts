// The nodes list's view in the URL: what a link says comes back as the same view, and a hand-edited
// or stale link falls back to the defaults instead of failing the page.
import { describe, expect, it } from 'vitest';
import { attentionHref, attentionViews, defaultView, parseView, searchOf, type NodeListView } from './node-filter-values.ts';

const fromSearch = (search: string) => {
  const params = new URLSearchParams(search);
  return parseView((name) => params.get(name) ?? undefined);
};

describe('node list view in the URL', () => {
  it('leaves the defaults out, and reads an empty URL as the defaults', () => {
    expect(searchOf(defaultView)).toBe('');
    expect(fromSearch('')).toEqual(defaultView);
  });

  it('round-trips every part of a view', () => {
    const view: NodeListView = { search: 'mac 1', label: 'pool=ios-ci', site: 'ber', state: 'offline', sync: 'fetching', condition: 'any', disk: 'low', sort: 'diskFree', direction: 'desc', page: 3 };
    expect(searchOf(view)).toBe('?q=mac+1&label=pool%3Dios-ci&site=ber&state=offline&sync=fetching&condition=any&disk=low&sort=diskFree&dir=desc&page=3');
    expect(fromSearch(searchOf(view))).toEqual(view);
  });

  it('drops what it does not know', () => {
    expect(fromSearch('?state=sleeping&sync=soon&condition=some&disk=full&sort=colour&dir=up&page=-2&q=%20%20')).toEqual(defaultView);
    expect(fromSearch('?page=2.5').page).toBe(1);
    expect(fromSearch(`?q=${'x'.repeat(500)}`).search).toHaveLength(100);
  });

  it("links each of the overview's attention groups to the list filtered to exactly that group", () => {
    const hrefs = Object.fromEntries(Object.keys(attentionViews).map((kind) => [kind, attentionHref(kind as keyof typeof attentionViews)]));
    expect(hrefs).toEqual({ condition: '/nodes?condition=any', offline: '/nodes?state=offline', failed: '/nodes?sync=failed', drift: '/nodes?sync=drift', 'low-disk': '/nodes?disk=low' });
    for (const [kind, view] of Object.entries(attentionViews)) {
      expect(fromSearch(hrefs[kind]!.slice('/nodes'.length))).toEqual({ ...defaultView, ...view });
    }
  });
});
