// Where a page of a long server-side list sits ("51–100 of 130 nodes · page 2 of 3") and the way
// to the previous and next page. The list's owner keeps the offset; this only moves it.
export function Pager({ offset, limit, total, what, onOffset }: { offset: number; limit: number; total: number; what: string; onOffset(offset: number): void }) {
  if (total === 0) return null;
  const first = Math.min(offset + 1, total);
  const last = Math.min(offset + limit, total);
  const pages = Math.ceil(total / limit);
  return (
    <nav className="pager" aria-label={`Pages of ${what}`}>
      <span className="muted small" role="status">
        {first}–{last} of {total} {what}
        {pages > 1 ? ` · page ${Math.floor(offset / limit) + 1} of ${pages}` : null}
      </span>
      {pages > 1 ? (
        <span className="pager-buttons">
          <button type="button" className="button button-small" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
            Previous page
          </button>
          <button type="button" className="button button-small" disabled={last >= total} onClick={() => onOffset(offset + limit)}>
            Next page
          </button>
        </span>
      ) : null}
    </nav>
  );
}
