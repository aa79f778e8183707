// Publishing an image: every payload file uploaded once, hashed while it is sent (the sha256 of a
// 15 GB IPSW, its piece digests and, when split, the whole-file digest all come from the one read
// that feeds the upload), then Cider's config, then the manifest under each tag. With a tag
// policy of immutable tags, an existing tag stops the push before a byte is sent. A file is a
// local path or a ByteSource (a URL: bytes/url-source.ts), read the same way: nothing is staged
// on local disk. Digests the publisher expects (an IPSW's SHA-1 from Apple's catalog) are checked
// on that same read, and a mismatch stops the upload before it is closed.
import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { fileSource, type ByteSource } from '../bytes/byte-source.ts';
import { isHttpUrl } from '../bytes/url-source.ts';
import { sha256, type Digest } from '../digest.ts';
import { DigestMismatchError, NotFoundError, OciError, SizeMismatchError } from '../errors.ts';
import { encodeManifest, type Descriptor, type ImageManifest } from '../manifest.ts';
import { Annotation, CiderMediaType, MediaType } from '../media-types.ts';
import { formatReference, parseReference, type Reference } from '../reference.ts';
import type { RegistryClient } from '../registry/client.ts';
import type { Repository } from '../registry/repository.ts';
import { inspectIpsw, type IpswInfo } from './ipsw.ts';
import { checkCiderImageConfig, defaultPieceSize, imageKinds, type CiderImageConfig, type ImageFacts, type ImageKind, type PayloadFile, type PayloadPart } from './config.ts';

/** Annotation on the layers of a split file: `<n>/<count>`. */
export const partAnnotation = 'io.ciderfleet.part';
/** Annotation on the layers of a split file: the file they join into. */
export const partOfAnnotation = 'io.ciderfleet.part.of';

const MiB = 1024 * 1024;
/** Files up to this size are read into memory, hashed first and skipped when the registry has them. */
const smallFile = 4 * MiB;
/** Progress is reported at most once per this many bytes (and at a part's end). */
const progressStep = MiB;

/** Digests a file must have, as its publisher states them (hex, or `sha256:`/`sha1:` prefixed). */
export interface ExpectedDigests {
  sha256?: string;
  sha1?: string;
}

interface ImageFileCommon {
  kind: ImageKind;
  /** The file's name in the image; its base name (a source's name) by default. */
  name?: string;
  /** Checked as the file is uploaded; a mismatch cancels the upload before it is closed. */
  expect?: ExpectedDigests;
}

/** A payload file: a local path, or a ByteSource (e.g. urlSource) that the caller closes. */
export type ImageFileInput = ImageFileCommon & ({ path: string; source?: undefined } | { source: ByteSource; path?: undefined });

export interface PublishProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface PushImageOptions {
  client: RegistryClient;
  /** The repository (a tag in it is used when `tags` is empty). */
  repository: string | Reference;
  files: ImageFileInput[];
  facts: ImageFacts;
  tags: string[];
  /** org.opencontainers.image.title; "<os> <version> (<build>)" by default. */
  title?: string;
  description?: string;
  /** org.opencontainers.image.source: where the payload came from. */
  source?: string;
  annotations?: Record<string, string>;
  /** Split files larger than this into ordered layers of at most this size (registries that cap a layer). */
  chunkSize?: number;
  pieceSize?: number;
  /** Bytes per PATCH while uploading. Default 32 MiB. */
  uploadChunkSize?: number;
  /** Refuse to move a tag that already exists (the registry's tag policy in Cider Fleet). */
  immutableTags?: boolean;
  /** The image's creation time (ISO 8601); now by default. The same files, facts and time make the same manifest digest. */
  created?: string;
  onProgress?: (progress: PublishProgress) => void;
  signal?: AbortSignal;
}

export interface PushImageResult {
  digest: Digest;
  manifest: ImageManifest;
  config: CiderImageConfig;
  /** Full references, one per tag. */
  references: string[];
  size: number;
}

/** Tag names per the distribution spec. */
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Hashes that run over a whole file across its parts: the sha256 of a split file, and the
 * digests its publisher stated. Copied at every (re)open of a part, as a part may be read again.
 */
interface RunningHashes {
  sha256?: Hash;
  sha1?: Hash;
}

function copyHashes(hashes: RunningHashes): RunningHashes {
  return { sha256: hashes.sha256?.copy(), sha1: hashes.sha1?.copy() };
}

/** Hashes what flows through it: sha256 per piece and the running whole-file hashes. */
class PieceHasher {
  readonly pieces: Digest[] = [];
  private piece: Hash = createHash('sha256');
  private inPiece = 0;
  bytes = 0;

  constructor(
    private readonly pieceSize: number,
    readonly whole: RunningHashes,
  ) {}

  update(chunk: Buffer): void {
    this.whole.sha256?.update(chunk);
    this.whole.sha1?.update(chunk);
    this.bytes += chunk.length;
    let from = 0;
    while (from < chunk.length) {
      const n = Math.min(this.pieceSize - this.inPiece, chunk.length - from);
      this.piece.update(from === 0 && n === chunk.length ? chunk : chunk.subarray(from, from + n));
      this.inPiece += n;
      from += n;
      if (this.inPiece === this.pieceSize) this.closePiece();
    }
  }

  private closePiece(): void {
    this.pieces.push(`sha256:${this.piece.digest('hex')}`);
    this.piece = createHash('sha256');
    this.inPiece = 0;
  }

  finish(): Digest[] {
    if (this.inPiece > 0 || this.pieces.length === 0) this.closePiece();
    return this.pieces;
  }
}

/** A stated digest as `<algorithm>:<hex>`, lower case; a clear error when it is not one. */
export function normalizeExpected(algorithm: 'sha256' | 'sha1', value: string): string {
  const hex = value.trim().toLowerCase().replace(new RegExp(`^${algorithm}:`), '');
  const length = algorithm === 'sha256' ? 64 : 40;
  if (!new RegExp(`^[0-9a-f]{${length}}$`).test(hex)) throw new OciError('INVALID_DIGEST', `--${algorithm} "${value}" is not a ${algorithm.toUpperCase()} digest (${length} hex digits)`);
  return `${algorithm}:${hex}`;
}

/** Compares the finished running hashes with what the publisher stated. */
function checkExpected(file: { name: string; expect?: ExpectedDigests }, hashes: RunningHashes): void {
  for (const algorithm of ['sha256', 'sha1'] as const) {
    const stated = file.expect?.[algorithm];
    const hash = hashes[algorithm];
    if (!stated || !hash) continue;
    const expected = normalizeExpected(algorithm, stated);
    const actual = `${algorithm}:${hash.copy().digest('hex')}`;
    if (actual !== expected) throw new DigestMismatchError(expected, actual, `${algorithm.toUpperCase()} of ${file.name} (the upload was cancelled, nothing was tagged)`);
  }
}

/**
 * Passes a part's bytes on, hashing them and telling `onRead` how many have passed; at the
 * file's last byte, checks the stated digests before the stream ends.
 */
async function* tapped(source: Readable, hasher: PieceHasher, last: { name: string; expect?: ExpectedDigests } | undefined, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hasher.update(chunk as Buffer);
    onRead(hasher.bytes);
    yield chunk as Buffer;
  }
  if (last) checkExpected(last, hasher.whole);
}

function checkTags(tags: string[]): void {
  for (const tag of tags) {
    if (!tagPattern.test(tag)) throw new OciError('INVALID_REFERENCE', `Invalid tag "${tag}": use letters, digits, "_", "." and "-" (up to 128, not starting with "." or "-")`);
  }
}

async function existingTag(repo: Repository, tag: string): Promise<Descriptor | undefined> {
  try {
    return await repo.resolve(tag);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

function immutableError(repo: Repository, tag: string, digest: Digest): OciError {
  return new OciError(
    'TAG_IMMUTABLE',
    `Tag "${tag}" already exists in ${repo.transport.registry}/${repo.name} (${digest}) and this registry has immutable tags: nothing was pushed. Push under another tag (--tag), or ask an admin to change the registry's tag policy in Cider Fleet.`,
  );
}

/** Refuses before any upload when a tag exists under an immutable-tags policy. */
export async function assertTagsFree(repo: Repository, tags: string[]): Promise<void> {
  for (const tag of tags) {
    const existing = await existingTag(repo, tag);
    if (existing) throw immutableError(repo, tag, existing.digest);
  }
}

/** Uploads one part of a file, hashing it (and its pieces, and the whole file) as it is sent. */
async function uploadPart(
  repo: Repository,
  file: { source: ByteSource; name: string; mediaType: string; expect?: ExpectedDigests },
  start: number,
  size: number,
  pieceSize: number,
  whole: RunningHashes,
  options: Pick<PushImageOptions, 'uploadChunkSize' | 'signal'> & { onBytes: (done: number) => void },
): Promise<{ part: PayloadPart; whole: RunningHashes }> {
  const source = file.source;
  // The file's last part checks the digests its publisher stated.
  const last = start + size === source.size ? file : undefined;
  if (size <= smallFile) {
    const bytes = await source.read(start, size, options.signal);
    if (bytes.length !== size) throw new SizeMismatchError(size, bytes.length, `file ${source.description} (it changed while being pushed)`);
    const hasher = new PieceHasher(pieceSize, whole);
    hasher.update(bytes);
    if (last) checkExpected(last, hasher.whole);
    const digest = sha256(bytes);
    await repo.pushBlob({ digest, size, mediaType: file.mediaType, open: () => bytes }, { signal: options.signal });
    options.onBytes(size);
    return { part: { digest, size, pieces: hasher.finish() }, whole };
  }
  // Progress is what has streamed through the hash on its way to the registry, never less than
  // what the registry acknowledged, and never moving back: a slow URL moves the bar as its bytes
  // arrive rather than in upload-chunk steps (32 MiB), and a resume that reads the source again
  // from the start holds the bar where it was until it passes it.
  let shown = 0;
  const progress = (bytes: number) => {
    if (bytes > shown && (bytes - shown >= progressStep || bytes === size)) options.onBytes((shown = bytes));
  };
  // Every (re)open of the source starts a fresh tap from the part's start; the last one saw every byte.
  let tap: PieceHasher | undefined;
  const open = () => {
    tap = new PieceHasher(pieceSize, copyHashes(whole));
    return Readable.from(tapped(source.stream(start, start + size, options.signal), tap, last, progress));
  };
  const descriptor = await repo.pushBlobStream(open, size, {
    mediaType: file.mediaType,
    chunkSize: options.uploadChunkSize,
    signal: options.signal,
    onProgress: progress,
  });
  if (!tap || tap.bytes !== size) throw new SizeMismatchError(size, tap?.bytes ?? 0, `file ${source.description} (it changed while being pushed)`);
  return { part: { digest: descriptor.digest, size, pieces: tap.finish() }, whole: tap.whole };
}

/** Pushes an image: payload layers, Cider config, manifest under every tag. */
export async function pushImage(options: PushImageOptions): Promise<PushImageResult> {
  const ref = typeof options.repository === 'string' ? parseReference(options.repository, { defaultTag: false }) : options.repository;
  if (ref.digest) throw new OciError('INVALID_REFERENCE', `Push to a repository or a tag, not a digest (${formatReference(ref)})`);
  const tags = options.tags.length > 0 ? [...new Set(options.tags)] : ref.tag ? [ref.tag] : [];
  if (tags.length === 0) throw new OciError('INVALID_REFERENCE', `No tag to push ${formatReference(ref)} under: give one (--tag)`);
  checkTags(tags);
  if (options.files.length === 0) throw new OciError('INVALID_IMAGE', 'Nothing to push: give at least one file');
  const pieceSize = options.pieceSize ?? defaultPieceSize;
  const chunkSize = options.chunkSize;
  if (chunkSize !== undefined && (!Number.isSafeInteger(chunkSize) || chunkSize < MiB)) throw new OciError('INVALID_IMAGE', `--chunk-size must be at least 1 MiB (got ${chunkSize})`);

  for (const file of options.files) {
    if (file.expect?.sha256) normalizeExpected('sha256', file.expect.sha256);
    if (file.expect?.sha1) normalizeExpected('sha1', file.expect.sha1);
  }
  // Paths are opened here (and closed at the end); sources are the caller's.
  const opened: ByteSource[] = [];
  try {
    const inputs = await Promise.all(
      options.files.map(async (file) => {
        let source: ByteSource;
        if (file.source) source = file.source;
        else {
          const info = await stat(file.path).catch(() => undefined);
          if (!info?.isFile()) throw new OciError('NOT_FOUND', `Cannot push ${file.path}: no such file`);
          source = await fileSource(file.path);
          opened.push(source);
        }
        const name = file.name ?? source.name;
        if (name.includes('/') || name === '.' || name === '..') throw new OciError('INVALID_IMAGE', `Invalid file name "${name}" in the image`);
        return { kind: file.kind, expect: file.expect, source, name, size: source.size, mediaType: imageKinds[file.kind] };
      }),
    );
    return await pushInputs(options, ref, tags, pieceSize, chunkSize, inputs);
  } finally {
    await Promise.all(opened.map((source) => source.close()));
  }
}

interface ResolvedInput {
  kind: ImageKind;
  expect?: ExpectedDigests;
  source: ByteSource;
  name: string;
  size: number;
  mediaType: string;
}

async function pushInputs(options: PushImageOptions, ref: Reference, tags: string[], pieceSize: number, chunkSize: number | undefined, inputs: ResolvedInput[]): Promise<PushImageResult> {
  const names = new Set<string>();
  for (const input of inputs) {
    if (names.has(input.name)) throw new OciError('INVALID_IMAGE', `Two files are named ${input.name}: each file in an image needs its own name`);
    names.add(input.name);
  }

  const repo = options.client.repositoryOf(ref);
  if (options.immutableTags) await assertTagsFree(repo, tags);

  const totalBytes = inputs.reduce((sum, f) => sum + f.size, 0);
  let doneBefore = 0;
  const files: PayloadFile[] = [];
  const layers: Descriptor[] = [];
  for (const input of inputs) {
    const partSize = chunkSize && input.size > chunkSize ? chunkSize : Math.max(input.size, 1);
    const count = Math.max(1, Math.ceil(input.size / partSize));
    const parts: PayloadPart[] = [];
    // The whole-file digest needs its own running hash only when the file is split (or stated).
    let whole: RunningHashes = {
      sha256: count > 1 || input.expect?.sha256 ? createHash('sha256') : undefined,
      sha1: input.expect?.sha1 ? createHash('sha1') : undefined,
    };
    for (let i = 0; i < count; i++) {
      const start = i * partSize;
      const size = Math.min(partSize, input.size - start);
      const base = doneBefore;
      const uploaded = await uploadPart(repo, input, start, size, pieceSize, whole, {
        uploadChunkSize: options.uploadChunkSize,
        signal: options.signal,
        onBytes: (done) => options.onProgress?.({ file: input.name, bytesDone: base + done, bytesTotal: totalBytes }),
      });
      whole = uploaded.whole;
      doneBefore += size;
      parts.push(uploaded.part);
      const annotations: Record<string, string> =
        count > 1
          ? { [Annotation.title]: `${input.name}.part${String(i + 1).padStart(3, '0')}`, [partOfAnnotation]: input.name, [partAnnotation]: `${i + 1}/${count}` }
          : { [Annotation.title]: input.name };
      layers.push({ mediaType: input.mediaType, digest: uploaded.part.digest, size, annotations });
    }
    const digest = count > 1 ? (`sha256:${whole.sha256!.digest('hex')}` as Digest) : parts[0]!.digest;
    files.push({ name: input.name, kind: input.kind, mediaType: input.mediaType, size: input.size, digest, pieceSize, parts });
  }

  const created = options.created ?? new Date().toISOString();
  const main = files.find((f) => f.kind === 'ipsw') ?? [...files].sort((a, b) => b.size - a.size)[0]!;
  const facts = options.facts;
  // Checked against the schema every puller and the dashboard read it with, before anything refers to it.
  const config: CiderImageConfig = checkCiderImageConfig({ ...facts, created, payload: { name: main.name, size: main.size }, files });
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: CiderMediaType.config, digest: sha256(configBytes), size: configBytes.length };
  await repo.pushBlob({ ...configDescriptor, open: () => configBytes }, { signal: options.signal });

  const title = options.title ?? [facts.os, facts.version, facts.build ? `(${facts.build})` : undefined].filter(Boolean).join(' ');
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: CiderMediaType.artifact,
    config: configDescriptor,
    layers,
    annotations: {
      [Annotation.created]: created,
      [Annotation.title]: title,
      ...(facts.version ? { [Annotation.version]: facts.version } : {}),
      [Annotation.source]: options.source ?? main.name,
      ...(options.description ? { [Annotation.description]: options.description } : {}),
      ...options.annotations,
    },
  };
  const encoded = encodeManifest(manifest);
  await repo.pushManifest(encoded.bytes, encoded.mediaType, encoded.digest);
  for (const tag of tags) {
    if (options.immutableTags) {
      // Someone may have pushed the tag while we uploaded: still never move it.
      const existing = await existingTag(repo, tag);
      if (existing && existing.digest !== encoded.digest) throw immutableError(repo, tag, existing.digest);
    }
    await repo.pushManifest(encoded.bytes, encoded.mediaType, tag);
  }
  return {
    digest: encoded.digest,
    manifest,
    config,
    references: tags.map((tag) => formatReference({ ...ref, tag, digest: undefined })),
    size: totalBytes,
  };
}

export interface PushIpswOptions extends Omit<PushImageOptions, 'files' | 'facts' | 'tags' | 'source'> {
  /** The IPSW on local disk; or give `source`. */
  path?: string;
  /**
   * The IPSW as a ByteSource (a URL: urlSource(url)), which the caller closes. With `path`, a
   * string here is the org.opencontainers.image.source text (as before `origin` existed).
   */
  source?: ByteSource | string;
  /** org.opencontainers.image.source; default: a URL source's URL (without query), else the file name. */
  origin?: string;
  /** Tags to set; `<version>` and `<version>-<build>` by default. */
  tags?: string[];
  /** Digests the IPSW must have (Apple's catalog gives its SHA-1); checked while it uploads. */
  expect?: ExpectedDigests;
}

/**
 * Publishes an IPSW as it is: its facts read from its plists, the file itself the payload
 * (darwin/arm64), tagged `<version>` and `<version>-<build>` unless told otherwise.
 */
export async function pushIpsw(options: PushIpswOptions): Promise<PushImageResult & { ipsw: IpswInfo }> {
  const { path, source: given, origin, expect, ...rest } = options;
  const payload = typeof given === 'object' ? given : undefined;
  if (payload && path !== undefined) throw new OciError('INVALID_IMAGE', 'Push an IPSW from a path or from a source, not both');
  if (!payload && path === undefined) throw new OciError('INVALID_IMAGE', 'No IPSW to push: give a path or a source');
  const ipsw = await inspectIpsw(payload ?? path!);
  const tags = options.tags?.length ? options.tags : [ipsw.version, `${ipsw.version}-${ipsw.build}`];
  const annotation = origin ?? (typeof given === 'string' ? given : payload && isHttpUrl(payload.description) ? payload.description : undefined);
  const result = await pushImage({
    ...rest,
    source: annotation,
    files: [payload ? { source: payload, kind: 'ipsw', expect } : { path: path!, kind: 'ipsw', expect }],
    facts: {
      os: ipsw.os,
      version: ipsw.version,
      build: ipsw.build,
      architecture: ipsw.architecture,
      devices: ipsw.devices,
      platform: { os: 'darwin', architecture: ipsw.architecture },
    },
    tags,
  });
  return { ...result, ipsw };
}
