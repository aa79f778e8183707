// Cider's image config (DESIGN.md "Image format"): what the image is (OS, version, build,
// architecture, devices) and, for every payload file, how it is stored: its whole-file digest,
// the ordered layers ("parts") it was split into, and a sha256 per piece of each part, so a
// puller can check every range it receives long before the whole-blob digest closes.
import { parseDigest, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
import type { Platform } from '../manifest.ts';
import { CiderMediaType } from '../media-types.ts';

/** Payload kinds: Apple's restore image, and the OS image kinds IronCore defines (same media types). */
export const imageKinds = {
  ipsw: CiderMediaType.ipsw,
  disk: 'application/vnd.ironcore.image.disk.img',
  kernel: 'application/vnd.ironcore.image.kernel',
  initramfs: 'application/vnd.ironcore.image.initramfs',
  squashfs: 'application/vnd.ironcore.image.squashfs',
  rootfs: 'application/vnd.ironcore.image.rootfs',
  cmdline: 'application/vnd.ironcore.image.cmdline',
  uki: 'application/vnd.ironcore.image.uki',
  iso: 'application/vnd.ironcore.image.iso',
} as const;

export type ImageKind = keyof typeof imageKinds;

export function isImageKind(value: string): value is ImageKind {
  return Object.hasOwn(imageKinds, value);
}

export function kindOfMediaType(mediaType: string): ImageKind | undefined {
  return (Object.keys(imageKinds) as ImageKind[]).find((kind) => imageKinds[kind] === mediaType);
}

/** Default piece size: 64 MiB, 240 pieces for a 15 GB IPSW (about 17 KB of config). */
export const defaultPieceSize = 64 * 1024 * 1024;

export interface PayloadPart {
  digest: Digest;
  size: number;
  /** sha256 of each `pieceSize` bytes of this part, in order (the last piece may be shorter). */
  pieces: Digest[];
}

export interface PayloadFile {
  name: string;
  kind: ImageKind;
  mediaType: string;
  size: number;
  /** sha256 of the whole file (equal to the only part's digest when it is not split). */
  digest: Digest;
  pieceSize: number;
  /** The layers the file was stored as, in order; joined, they are the file. */
  parts: PayloadPart[];
}

/** What an image is, as its publisher says (read from an IPSW, or given to `cider image import`). */
export interface ImageFacts {
  /** For people: macOS, iOS, linux... */
  os: string;
  version?: string;
  build?: string;
  architecture: string;
  devices?: string[];
  /** The OCI platform this image is for (used when it joins a multi-platform index). */
  platform: Platform;
}

export interface CiderImageConfig extends ImageFacts {
  created: string;
  /** The main payload, as DESIGN.md names it (the IPSW, or the largest file). */
  payload: { name: string; size: number };
  files: PayloadFile[];
}

function bad(reason: string): OciError {
  return new OciError('INVALID_MANIFEST', `Invalid Cider image config: ${reason}`);
}

function digestField(value: unknown, where: string): Digest {
  if (typeof value !== 'string') throw bad(`${where} is not a digest`);
  try {
    parseDigest(value);
  } catch {
    throw bad(`${where} is not a valid digest`);
  }
  return value as Digest;
}

function sizeField(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(`${where} is not a size`);
  return value;
}

/**
 * The payload files of a Cider config, checked enough to be trusted for verification and
 * joining (the config itself is verified by its digest). Undefined when the config predates files.
 */
export function payloadFilesOf(config: unknown): PayloadFile[] | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const files = (config as { files?: unknown }).files;
  if (files === undefined) return undefined;
  if (!Array.isArray(files)) throw bad('files is not a list');
  return files.map((raw, i) => {
    const where = `files[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw bad(`${where} is not an object`);
    const f = raw as Record<string, unknown>;
    if (typeof f.name !== 'string' || f.name === '' || f.name.includes('/') || f.name === '.' || f.name === '..') throw bad(`${where}.name is not a file name`);
    const pieceSize = sizeField(f.pieceSize, `${where}.pieceSize`);
    if (pieceSize === 0) throw bad(`${where}.pieceSize is 0`);
    if (!Array.isArray(f.parts) || f.parts.length === 0) throw bad(`${where}.parts is empty`);
    const parts = f.parts.map((p: unknown, j: number) => {
      const pw = `${where}.parts[${j}]`;
      if (typeof p !== 'object' || p === null) throw bad(`${pw} is not an object`);
      const part = p as Record<string, unknown>;
      const size = sizeField(part.size, `${pw}.size`);
      if (!Array.isArray(part.pieces)) throw bad(`${pw}.pieces is not a list`);
      const pieces = part.pieces.map((d: unknown, k: number) => digestField(d, `${pw}.pieces[${k}]`));
      if (pieces.length !== Math.max(1, Math.ceil(size / pieceSize))) throw bad(`${pw} has ${pieces.length} pieces for ${size} bytes`);
      return { digest: digestField(part.digest, `${pw}.digest`), size, pieces };
    });
    const size = sizeField(f.size, `${where}.size`);
    if (parts.reduce((sum, p) => sum + p.size, 0) !== size) throw bad(`${where}: its parts do not add up to its size`);
    const kind = typeof f.kind === 'string' && isImageKind(f.kind) ? f.kind : 'disk';
    return { name: f.name, kind, mediaType: typeof f.mediaType === 'string' ? f.mediaType : imageKinds[kind], size, digest: digestField(f.digest, `${where}.digest`), pieceSize, parts };
  });
}

/** Piece digests by layer digest, for the puller. */
export function piecesByLayer(files: PayloadFile[]): Map<Digest, { pieceSize: number; pieces: Digest[] }> {
  const map = new Map<Digest, { pieceSize: number; pieces: Digest[] }>();
  for (const file of files) for (const part of file.parts) map.set(part.digest, { pieceSize: file.pieceSize, pieces: part.pieces });
  return map;
}
