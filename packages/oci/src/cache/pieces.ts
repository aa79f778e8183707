// The verified pieces of blobs this process is downloading (issue 10): what a peer server may
// serve of a blob that is not complete yet. A piece is marked here only after its bytes, as
// written to the ingest file, hashed to the digest the image's config lists for it; marked
// pieces are never written again, so a reader of the ingest file sees only verified bytes in
// them. In memory only: a restarted agent verifies its partial download again before serving it.

/** One bit per piece, most significant bit first in each byte (BitTorrent's bitfield order). */
export type Bitfield = Uint8Array;

export function emptyBitfield(count: number): Bitfield {
  return new Uint8Array(Math.ceil(count / 8));
}

export function hasPiece(bits: Bitfield, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}

export function setPiece(bits: Bitfield, index: number): void {
  bits[index >> 3]! |= 0x80 >> (index & 7);
}

export function clearPiece(bits: Bitfield, index: number): void {
  bits[index >> 3]! &= ~(0x80 >> (index & 7));
}

export function countPieces(bits: Bitfield, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (hasPiece(bits, i)) n++;
  return n;
}

/** Largest piece count a bitfield may describe (a 17 GB image at 1 MiB pieces is ~16,000). */
export const maxPieces = 1 << 20;

export interface PartialBlob {
  readonly digest: string;
  readonly size: number;
  readonly pieceSize: number;
  readonly count: number;
  /** The ingest file the pieces are in. */
  readonly dataPath: string;
  readonly verified: Bitfield;
  /** Pieces being fetched right now (from anywhere): peers leave them to this node rather than fetch them from the registry too. */
  readonly fetching: Bitfield;
}

export class PieceBoard {
  private readonly partials = new Map<string, PartialBlob>();

  /** A download of `digest` starts with pieces of `pieceSize`; none is verified yet. */
  open(digest: string, size: number, pieceSize: number, dataPath: string): PartialBlob {
    const count = Math.max(1, Math.ceil(size / pieceSize));
    const partial: PartialBlob = { digest, size, pieceSize, count, dataPath, verified: emptyBitfield(count), fetching: emptyBitfield(count) };
    this.partials.set(digest, partial);
    return partial;
  }

  markVerified(partial: PartialBlob, index: number): void {
    setPiece(partial.verified, index);
  }

  markFetching(partial: PartialBlob, index: number, fetching: boolean): void {
    if (fetching) setPiece(partial.fetching, index);
    else clearPiece(partial.fetching, index);
  }

  /** The download ended (committed, stopped or failed): nothing of it is served from the ingest any more. */
  close(partial: PartialBlob): void {
    if (this.partials.get(partial.digest) === partial) this.partials.delete(partial.digest);
  }

  get(digest: string): PartialBlob | undefined {
    return this.partials.get(digest);
  }

  /** True when bytes [start, end] (inclusive) all lie in verified pieces of the download of `digest`. */
  covers(digest: string, start: number, end: number): boolean {
    const partial = this.partials.get(digest);
    if (!partial || start < 0 || end < start || end >= partial.size) return false;
    for (let i = Math.floor(start / partial.pieceSize); i <= Math.floor(end / partial.pieceSize); i++) {
      if (!hasPiece(partial.verified, i)) return false;
    }
    return true;
  }
}
