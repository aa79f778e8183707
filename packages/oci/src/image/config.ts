// Cider's image config (DESIGN.md "Image format"): what the image is (OS, version, build,
// architecture, devices) and, for every payload file, how it is stored: its whole-file digest,
// the ordered layers ("parts") it was split into, and a sha256 per piece of each part, so a
// puller can check every range it receives long before the whole-blob digest closes.
import { z } from 'zod';
import { isDigest, type Digest } from '../digest.ts';
import { OciError } from '../errors.ts';
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

// --- the config as one zod schema: what `cider image` writes (checked before it is pushed), what
// a pull trusts for piece verification and joining, and (field by field, tolerantly) what the
// dashboard shows of any config. ---

const digestSchema = z.string().refine(isDigest, 'not a valid digest');
const sizeSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const fileNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => !name.includes('/') && name !== '.' && name !== '..', 'not a file name');
const textSchema = z.string().min(1).max(255);

export const payloadPartSchema = z.object({
  digest: digestSchema,
  size: sizeSchema,
  /** sha256 of each `pieceSize` bytes of this part, in order (the last piece may be shorter). */
  pieces: z.array(digestSchema).max(1_000_000),
});
export type PayloadPart = z.infer<typeof payloadPartSchema>;

/** A payload file's fields, each readable on its own (the dashboard shows whatever parses). */
export const payloadFileFields = z.object({
  name: fileNameSchema,
  kind: z.string().max(64).optional(),
  mediaType: z.string().max(255).optional(),
  size: sizeSchema,
  /** sha256 of the whole file (equal to the only part's digest when it is not split). */
  digest: digestSchema,
  pieceSize: sizeSchema.positive(),
  /** The layers the file was stored as, in order; joined, they are the file. */
  parts: z.array(payloadPartSchema).min(1).max(10_000),
});

/** A payload file, checked enough to be trusted for verification and joining (the config itself is verified by its digest). */
export const payloadFileSchema = payloadFileFields
  .superRefine((file, context) => {
    file.parts.forEach((part, i) => {
      const expected = Math.max(1, Math.ceil(part.size / file.pieceSize));
      if (part.pieces.length !== expected) context.addIssue({ code: 'custom', path: ['parts', i, 'pieces'], message: `${part.pieces.length} pieces for ${part.size} bytes` });
    });
    if (file.parts.reduce((sum, part) => sum + part.size, 0) !== file.size) context.addIssue({ code: 'custom', path: ['parts'], message: 'its parts do not add up to its size' });
  })
  .transform((file) => {
    // Kinds from a newer publisher read as plain disk images.
    const kind: ImageKind = file.kind !== undefined && isImageKind(file.kind) ? file.kind : 'disk';
    return { ...file, kind, mediaType: file.mediaType ?? imageKinds[kind] };
  });
export type PayloadFile = z.output<typeof payloadFileSchema>;

const platformSchema = z.object({
  architecture: textSchema,
  os: textSchema,
  'os.version': textSchema.optional(),
  'os.features': z.array(textSchema).max(64).optional(),
  variant: textSchema.optional(),
});

/** What an image is, as its publisher says (read from an IPSW, or given to `cider image import`). */
export const imageFactsSchema = z.object({
  /** For people: macOS, iOS, linux... */
  os: textSchema,
  version: textSchema.optional(),
  build: textSchema.optional(),
  architecture: textSchema,
  devices: z.array(textSchema).max(1_000).optional(),
  /** The OCI platform this image is for (used when it joins a multi-platform index). */
  platform: platformSchema,
});
export type ImageFacts = z.infer<typeof imageFactsSchema>;

/** The config's fields, each readable on its own. */
export const ciderImageConfigFields = imageFactsSchema.extend({
  created: z.iso.datetime({ offset: true }),
  /** The main payload, as DESIGN.md names it (the IPSW, or the largest file). */
  payload: z.object({ name: fileNameSchema, size: sizeSchema }),
  files: z.array(payloadFileSchema).max(1_024),
});
export type CiderImageConfig = z.output<typeof ciderImageConfigFields>;

function bad(reason: string): OciError {
  return new OciError('INVALID_MANIFEST', `Invalid Cider image config: ${reason}`);
}

/** The first problem zod found, as "files[0].parts[1].pieces: 3 pieces for 10 bytes". */
function firstIssue(error: z.ZodError, root = ''): string {
  const issue = error.issues[0];
  if (!issue) return 'it does not match the schema';
  const path = issue.path.reduce<string>((at, key) => (typeof key === 'number' ? `${at}[${key}]` : at ? `${at}.${String(key)}` : String(key)), root);
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Checks a config before it is written; an OciError names the first problem. */
export function checkCiderImageConfig(config: unknown): CiderImageConfig {
  const parsed = ciderImageConfigFields.safeParse(config);
  if (!parsed.success) throw bad(firstIssue(parsed.error));
  return parsed.data;
}

/**
 * The payload files of a Cider config, checked enough to be trusted for verification and
 * joining. Undefined when the config predates files.
 */
export function payloadFilesOf(config: unknown): PayloadFile[] | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const files = (config as { files?: unknown }).files;
  if (files === undefined) return undefined;
  const parsed = ciderImageConfigFields.shape.files.safeParse(files);
  if (!parsed.success) throw bad(firstIssue(parsed.error, 'files'));
  return parsed.data;
}

/** Piece digests by layer digest, for the puller. */
export function piecesByLayer(files: PayloadFile[]): Map<Digest, { pieceSize: number; pieces: Digest[] }> {
  const map = new Map<Digest, { pieceSize: number; pieces: Digest[] }>();
  for (const file of files) for (const part of file.parts) map.set(part.digest, { pieceSize: file.pieceSize, pieces: part.pieces });
  return map;
}
