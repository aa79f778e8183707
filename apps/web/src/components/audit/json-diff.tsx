// Before and after side by side, one row per field (nested objects as dotted paths), with added,
// removed and changed fields marked in words as well as colour.
type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

type Change = 'added' | 'removed' | 'changed' | 'same';

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, Json>);
    if (entries.length === 0 && prefix) out.set(prefix, '{}');
    for (const [key, inner] of entries) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else if (value !== undefined && (prefix || value !== null)) {
    out.set(prefix || '(value)', typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

export function diffRows(before: unknown, after: unknown): { path: string; before?: string; after?: string; change: Change }[] {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.map((path) => {
    const was = a.get(path);
    const now = b.get(path);
    const change: Change = was === undefined ? 'added' : now === undefined ? 'removed' : was === now ? 'same' : 'changed';
    return { path, before: was, after: now, change };
  });
}

export function JsonDiff({ before, after }: { before: unknown; after: unknown }) {
  const rows = diffRows(before, after);
  if (rows.length === 0) return <p className="muted small">No recorded fields.</p>;
  return (
    <table className="table json-diff" aria-label="Changes">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.path} className={`diff-${row.change}`} data-change={row.change}>
            <th scope="row">
              <code>{row.path}</code>
              {row.change === 'same' ? null : <span className={`badge diff-badge-${row.change}`}>{row.change}</span>}
            </th>
            <td className="diff-before">{row.before === undefined ? <span className="muted">—</span> : <span className="diff-value">{row.before}</span>}</td>
            <td className="diff-after">{row.after === undefined ? <span className="muted">—</span> : <span className="diff-value">{row.after}</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
