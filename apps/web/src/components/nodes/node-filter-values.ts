// The nodes list's view (search, filters, sort, page) as the URL and the page share it, so a view
// can be linked and survives a reload (no 'use client': the server page parses it too).
import type { AppRouter } from '@cider/api';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';

type PageInput = inferRouterInputs<AppRouter>['nodes']['page'];
type AttentionKind = inferRouterOutputs<AppRouter>['fleet']['overview']['attention']['groups'][number]['kind'];

export const stateFilters = ['online', 'offline', 'revoked'] as const satisfies readonly NonNullable<PageInput['state']>[];
export const syncFilters = ['in-sync', 'behind', 'fetching', 'failed', 'drift'] as const satisfies readonly NonNullable<PageInput['sync']>[];
export const sortKeys = ['name', 'state', 'lastSeen', 'cache', 'diskFree'] as const satisfies readonly NonNullable<PageInput['sort']>[];

export const syncFilterLabels: Record<(typeof syncFilters)[number], string> = {
  'in-sync': 'In sync',
  behind: 'Behind (waiting)',
  fetching: 'Fetching',
  failed: 'Failed',
  drift: 'Missing a pinned image (drift)',
};

/** The overview's "needs attention" groups, each as the view that lists all of its nodes. */
export const attentionViews: Record<AttentionKind, Pick<NodeListView, 'condition' | 'state' | 'sync' | 'disk'>> = {
  condition: { condition: 'any' },
  offline: { state: 'offline' },
  failed: { sync: 'failed' },
  drift: { sync: 'drift' },
  'low-disk': { disk: 'low' },
};

export interface NodeListView {
  search?: string;
  label?: string;
  site?: string;
  state?: (typeof stateFilters)[number];
  sync?: (typeof syncFilters)[number];
  /** Only nodes with a standing condition. */
  condition?: 'any';
  /** Only nodes low on disk. */
  disk?: 'low';
  sort: (typeof sortKeys)[number];
  direction: 'asc' | 'desc';
  page: number;
}

export const defaultView: NodeListView = { sort: 'name', direction: 'asc', page: 1 };

function oneOf<T extends string>(options: readonly T[], value: string | undefined): T | undefined {
  return options.find((option) => option === value);
}

/** Reads a view from search params; anything unknown or malformed falls back to the default. */
export function parseView(get: (name: string) => string | undefined): NodeListView {
  const text = (name: string, max: number) => get(name)?.trim().slice(0, max) || undefined;
  const page = Number(get('page'));
  return {
    search: text('q', 100),
    label: text('label', 200),
    site: text('site', 100),
    state: oneOf(stateFilters, get('state')),
    sync: oneOf(syncFilters, get('sync')),
    condition: oneOf(['any'], get('condition')),
    disk: oneOf(['low'], get('disk')),
    sort: oneOf(sortKeys, get('sort')) ?? 'name',
    direction: get('dir') === 'desc' ? 'desc' : 'asc',
    page: Number.isInteger(page) && page > 1 ? Math.min(page, 100_000) : 1,
  };
}

/** The query string for a view, leaving out what is the default. */
export function searchOf(view: NodeListView): string {
  const params = new URLSearchParams();
  if (view.search) params.set('q', view.search);
  if (view.label) params.set('label', view.label);
  if (view.site) params.set('site', view.site);
  if (view.state) params.set('state', view.state);
  if (view.sync) params.set('sync', view.sync);
  if (view.condition) params.set('condition', view.condition);
  if (view.disk) params.set('disk', view.disk);
  if (view.sort !== 'name') params.set('sort', view.sort);
  if (view.direction !== 'asc') params.set('dir', view.direction);
  if (view.page > 1) params.set('page', String(view.page));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function isFiltered(view: NodeListView): boolean {
  return Boolean(view.search || view.label || view.site || view.state || view.sync || view.condition || view.disk);
}

/** The nodes list showing every node of one "needs attention" group: the overview's "Show all" link. */
export function attentionHref(kind: AttentionKind): string {
  return `/nodes${searchOf({ ...defaultView, ...attentionViews[kind] })}`;
}
