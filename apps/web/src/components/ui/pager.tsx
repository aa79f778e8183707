// Previous / next for a list paged on the server, with where the reader is ("51–100 of 240").
export function Pager({ page, pages, pageSize, total, noun, onPage }: { page: number; pages: number; pageSize: number; total: number; noun: [string, string]; onPage(page: number): void }) {
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = Math.min(total, page * pageSize);
  return (
    <nav className="pager" aria-label="Pages">
      <span className="muted small" aria-live="polite">
        {first}–{last} of {total} {total === 1 ? noun[0] : noun[1]} · page {page} of {pages}
      </span>
      <span className="pager-buttons">
        <button type="button" className="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
          Previous page
        </button>
        <button type="button" className="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
          Next page
        </button>
      </span>
    </nav>
  );
}
