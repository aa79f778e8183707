'use client';
// A value that follows another once it has stopped changing for `ms`: a search box asks the
// server once per pause in typing, not once per key.
import { useEffect, useState } from 'react';

export function useDebounced<T>(value: T, ms = 250): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/**
 * A server-paged list's search box and page: what was typed, the search it settles into (trimmed,
 * once typing pauses) and the offset, which a new search sets back to the first page.
 */
export function usePagedSearch(ms = 250) {
  const [typed, setTyped] = useState('');
  const search = useDebounced(typed.trim(), ms);
  const [page, setPage] = useState({ search: '', offset: 0 });
  const offset = page.search === search ? page.offset : 0;
  return { typed, setTyped, search, offset, setOffset: (next: number) => setPage({ search, offset: next }) };
}
