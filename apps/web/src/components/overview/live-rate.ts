// A rollout's live bytes and rate from the sync.progress reports the live store already keeps
// (live/progress.ts): the bytes its pulls report now, and what they gained over the last 15 s.
// A pull that finishes leaves the store; what it had gained stays counted in the window.
import { useEffect, useRef, useState } from 'react';
import { useLiveProgress } from '../../live/progress.ts';

const windowMs = 15_000;
const recheckMs = 2_000;

export interface LiveRate {
  /** Bytes the pulls of this digest reported so far (those reporting since the page opened). */
  pulledBytes: number;
  /** Bytes per second over the window; null until two reports came in. */
  bytesPerSecond: number | null;
}

export function useLiveRate(digest: string): LiveRate {
  const progress = useLiveProgress();
  const seen = useRef(new Map<string, number>());
  const gains = useRef<{ at: number; bytes: number }[]>([]);
  const firstAt = useRef<number | undefined>(undefined);
  const [rate, setRate] = useState<number | null>(null);

  let pulledBytes = 0;
  for (const [key, report] of progress) if (key.endsWith(` ${digest}`)) pulledBytes += report.bytesDone;

  useEffect(() => {
    const now = Date.now();
    for (const [key, report] of progress) {
      if (!key.endsWith(` ${digest}`)) continue;
      const before = seen.current.get(key);
      if (before !== undefined && report.bytesDone > before) gains.current.push({ at: now, bytes: report.bytesDone - before });
      if (before === undefined) firstAt.current ??= now;
      seen.current.set(key, report.bytesDone);
    }
  }, [progress, digest]);

  useEffect(() => {
    const measure = () => {
      const now = Date.now();
      gains.current = gains.current.filter((g) => now - g.at <= windowMs);
      if (firstAt.current === undefined || gains.current.length === 0) return setRate(firstAt.current === undefined ? null : 0);
      const span = Math.max(1_000, Math.min(windowMs, now - firstAt.current));
      setRate(gains.current.reduce((sum, g) => sum + g.bytes, 0) / (span / 1000));
    };
    measure();
    const timer = setInterval(measure, recheckMs);
    return () => clearInterval(timer);
  }, [progress]);

  return { pulledBytes, bytesPerSecond: rate };
}
