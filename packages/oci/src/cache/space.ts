import { statfs } from 'node:fs/promises';
import { InsufficientSpaceError } from '../errors.ts';

/** Free bytes available to us on the filesystem holding `path`. */
export type FreeSpaceProbe = (path: string) => Promise<number>;

export const statfsFreeSpace: FreeSpaceProbe = async (path) => {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
};

/** Headroom kept free beyond what a pull needs, so the host itself keeps working. */
export const defaultHeadroomBytes = 256 * 1024 * 1024;

/** Throws InsufficientSpaceError (saying how much is needed and free) when `needed` won't fit. */
export async function ensureSpace(path: string, needed: number, probe: FreeSpaceProbe = statfsFreeSpace, headroom = defaultHeadroomBytes): Promise<void> {
  if (needed <= 0) return;
  const free = await probe(path);
  if (free < needed + headroom) throw new InsufficientSpaceError(needed + headroom, free, path);
}
