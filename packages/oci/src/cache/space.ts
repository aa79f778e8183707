// Free space: a pull checks that what it still has to write fits before it starts, counting
// what other pulls in this process have reserved and are still writing; a disk that fills up
// anyway (another program wrote to it) surfaces as InsufficientSpaceError with the numbers, and
// a refused digest is remembered so a repeat on an unchanged disk fails at once, offline.
import { statfs } from 'node:fs/promises';
import { InsufficientSpaceError } from '../errors.ts';
import { isNoSpace } from './fsutil.ts';

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

/** Bytes a pull in flight still expects to write. */
export interface Reservation {
  readonly remaining: number;
  /** `bytes` of the reservation were written (they now show in the disk's free space). */
  consume(bytes: number): void;
  release(): void;
}

/** A pull that did not fit: what it needed, what was free, since when. */
export interface SpaceRefusal {
  digest: string;
  reference?: string;
  neededBytes: number;
  freeBytes: number;
  path: string;
  since: string;
}

/**
 * Free space moves a little all the time (logs, journals, temporary files): a refusal's numbers
 * change only when it moves more than this, so an unchanged disk gives the same answer.
 */
function noticeable(before: number, now: number, needed: number): boolean {
  return Math.abs(now - before) > Math.max(1024 * 1024, needed / 100);
}

/**
 * The space bookkeeping of one cache in one process: reservations of the pulls in flight, and
 * the digests refused for want of space (until the disk has what they needed).
 */
export class SpaceLedger {
  private readonly reservations = new Set<{ remaining: number }>();
  private readonly refused = new Map<string, SpaceRefusal>();

  /** What pulls in flight still expect to write. */
  get reservedBytes(): number {
    let total = 0;
    for (const r of this.reservations) total += r.remaining;
    return total;
  }

  /**
   * Checks that `needed` bytes (plus headroom) fit beside every other reservation, and reserves
   * them. The check and the reservation happen without an await between them, so two pulls
   * starting together cannot both count the same free bytes.
   */
  async reserve(path: string, needed: number, probe: FreeSpaceProbe = statfsFreeSpace, headroom = defaultHeadroomBytes): Promise<Reservation> {
    const free = await probe(path);
    const available = Math.max(0, free - this.reservedBytes);
    if (needed > 0 && available < needed + headroom) throw new InsufficientSpaceError(needed + headroom, available, path);
    const entry = { remaining: Math.max(0, needed) };
    this.reservations.add(entry);
    return {
      get remaining() {
        return entry.remaining;
      },
      consume: (bytes) => {
        entry.remaining = Math.max(0, entry.remaining - bytes);
      },
      release: () => {
        this.reservations.delete(entry);
      },
    };
  }

  refuse(refusal: SpaceRefusal): void {
    const previous = this.refused.get(refusal.digest);
    this.refused.set(refusal.digest, { ...refusal, since: previous?.since ?? refusal.since });
  }

  /**
   * Fails at once, without the network, when `digest` was refused and the disk still lacks what it
   * needed; forgets the refusal once it has it.
   */
  async recheck(digest: string, probe: FreeSpaceProbe = statfsFreeSpace): Promise<void> {
    const refusal = this.refused.get(digest);
    if (!refusal) return;
    const available = Math.max(0, (await probe(refusal.path)) - this.reservedBytes);
    if (available >= refusal.neededBytes) {
      this.refused.delete(digest);
      return;
    }
    const freeBytes = noticeable(refusal.freeBytes, available, refusal.neededBytes) ? available : refusal.freeBytes;
    this.refused.set(digest, { ...refusal, freeBytes });
    throw new InsufficientSpaceError(refusal.neededBytes, freeBytes, refusal.path);
  }

  /** Refusals the disk still cannot satisfy (with today's free space); the others are forgotten. */
  async standing(probe: FreeSpaceProbe = statfsFreeSpace): Promise<SpaceRefusal[]> {
    const result: SpaceRefusal[] = [];
    for (const refusal of [...this.refused.values()]) {
      const available = Math.max(0, (await probe(refusal.path)) - this.reservedBytes);
      if (available >= refusal.neededBytes) this.refused.delete(refusal.digest);
      else result.push(noticeable(refusal.freeBytes, available, refusal.neededBytes) ? { ...refusal, freeBytes: available } : refusal);
    }
    return result;
  }

  forget(digest: string): void {
    this.refused.delete(digest);
  }

  /** Forgets refusals of digests no longer wanted (a pin was removed): nothing will ask for them. */
  retainOnly(wanted: ReadonlySet<string>): void {
    for (const digest of [...this.refused.keys()]) if (!wanted.has(digest)) this.refused.delete(digest);
  }
}

/**
 * ENOSPC/EDQUOT from a write becomes InsufficientSpaceError with what was still to be written
 * (`needed`) and what the disk has; any other error is returned as it is.
 */
export async function asNoSpaceError(error: unknown, path: string, needed: number, probe: FreeSpaceProbe = statfsFreeSpace): Promise<unknown> {
  if (!isNoSpace(error)) return error;
  const free = await probe(path).catch(() => 0);
  return Object.assign(new InsufficientSpaceError(needed, free, path), { cause: error });
}
