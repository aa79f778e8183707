// An audit event's before and after in plain words for the log's readers: one line per field
// that changed ("Name: iOS → iOS CI"), labels instead of column names, ids of other objects
// replaced by their names ("Registry: office" instead of registryId), and bookkeeping (row ids,
// who created a row, timestamps the database keeps) left out. The raw values stay in the event.

export interface ChangeLine {
  field: string;
  /** Absent on a creation (nothing before) or for a field that is new. */
  before?: string;
  /** Absent on a deletion or for a field that went away. */
  after?: string;
}

/** Names of other objects by id, resolved by the reader for the page it shows. */
export type NamesById = ReadonlyMap<string, string>;

/** Fields that point at another object, shown as that object's name under this label. */
export const referenceFields: Record<string, { label: string; type: string }> = {
  registryId: { label: 'Registry', type: 'registry' },
  projectId: { label: 'Project', type: 'project' },
  teamId: { label: 'Team', type: 'team' },
  nodeId: { label: 'Node', type: 'node' },
  userId: { label: 'User', type: 'user' },
};

/** Bookkeeping no admin acts on. */
const hiddenFields = new Set(['id', 'createdById', 'createdAt', 'updatedAt', 'actorId']);

const labels: Record<string, string> = {
  url: 'URL',
  plainHttp: 'Plain HTTP',
  nodeSelector: 'Node selector',
  immutableTags: 'Immutable tags',
  hasCredentials: 'Credentials',
  tagNowPointsTo: 'Tag now points to',
  freedBytes: 'Freed bytes',
  lastSeenAt: 'Last seen',
  revokedAt: 'Revoked',
  expiresAt: 'Expires',
  usedAt: 'Used',
  lastUsedAt: 'Last used',
  resolvedAt: 'Resolved',
  driftDigest: 'Tag moved to',
  replaceAllowedUntil: 'Replace allowed until',
  secretRotationPending: 'Secret rotation pending',
};

/** `nodeSelector` → `Node selector`; `facts.disk.freeBytes` → `Facts › disk › free bytes`. */
export function fieldLabel(path: string): string {
  return path
    .split('.')
    .map((part, i) => {
      const known = labels[part];
      if (known) return i === 0 ? known : known.toLowerCase();
      const words = part.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
      return i === 0 ? words.charAt(0).toUpperCase() + words.slice(1) : words;
    })
    .join(' › ');
}

const isoDate = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function isFlatStringMap(value: object): value is Record<string, string> {
  return !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** One value in words: yes/no, "none", dates in UTC, label maps as `key=value`, lists joined. */
export function plainValue(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') {
    if (isoDate.test(value)) return `${value.slice(0, 10)} ${value.slice(11, 16)} UTC`;
    return value;
  }
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(plainValue).join(', ');
  if (typeof value === 'object') {
    const named = (value as Record<string, unknown>).name ?? (value as Record<string, unknown>).email;
    if (typeof named === 'string') return named;
    const entries = Object.entries(value);
    if (entries.length === 0) return 'none';
    if (isFlatStringMap(value)) return entries.map(([k, v]) => `${k}=${v}`).join(', ');
    return JSON.stringify(value);
  }
  return String(value);
}

/** Fields as label → words, nested objects (other than label maps) opened into dotted paths. */
function flatten(value: unknown, names: NamesById, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (prefix) out.set(prefix, plainValue(value));
    return out;
  }
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (hiddenFields.has(key)) continue;
    const reference = referenceFields[key];
    if (reference) {
      // Some events also wrote the name down (`registry: 'office'`): show it once.
      if (reference.label.toLowerCase() in (value as Record<string, unknown>)) continue;
      const path = prefix ? `${prefix}.${reference.label}` : reference.label;
      out.set(path, typeof inner === 'string' ? (names.get(inner) ?? 'a deleted object') : plainValue(inner));
      continue;
    }
    // Other ids (a job, a token) say nothing to a reader and are not looked up.
    if (/Id$/.test(key) && typeof inner === 'string') continue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && !isFlatStringMap(inner) && Object.keys(inner).length > 0) flatten(inner, names, path, out);
    else out.set(path, plainValue(inner));
  }
  return out;
}

/**
 * The lines to show for one event: on an update only what differs; on a creation or deletion
 * every field, on one side.
 */
export function describeChanges(before: unknown, after: unknown, names: NamesById = new Map()): ChangeLine[] {
  const was = flatten(before, names);
  const now = flatten(after, names);
  const both = before !== null && before !== undefined && after !== null && after !== undefined;
  const paths = [...new Set([...was.keys(), ...now.keys()])];
  const lines: ChangeLine[] = [];
  for (const path of paths) {
    const b = was.get(path);
    const a = now.get(path);
    if (both && b === a) continue;
    lines.push({ field: fieldLabel(path), ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) });
  }
  return lines;
}

/** Every id a page of events points at through a reference field, by the type to look it up in. */
export function referencedIds(values: unknown[], out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  for (const value of values) {
    if (value === null || typeof value !== 'object') continue;
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const reference = referenceFields[key];
      if (reference && typeof inner === 'string') {
        if (!out.has(reference.type)) out.set(reference.type, new Set());
        out.get(reference.type)!.add(inner);
      } else if (inner !== null && typeof inner === 'object') referencedIds([inner], out);
    }
  }
  return out;
}
