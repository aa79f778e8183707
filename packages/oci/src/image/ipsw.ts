// What an IPSW is, read without reading the IPSW: an IPSW is a zip; its central directory (at the
// end of the file) lists the entries, and BuildManifest.plist / Restore.plist (small entries)
// name the OS, version, build and the devices it restores. Only those bytes are read, whatever
// the file's size (15 GB or more, so zip64). The file is never written to. The file may be a URL
// (bytes/url-source.ts): the same few reads are then Range requests, a handful for any IPSW.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { DOMParser } from '@xmldom/xmldom';
import { parse as parseXmlPlist, parseBinary as parseBinaryPlist } from 'plist';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { fileSource, type ByteSource } from '../bytes/byte-source.ts';
import { OciError } from '../errors.ts';

export interface IpswInfo {
  /** macOS, iOS, iPadOS, tvOS, watchOS, visionOS. */
  os: string;
  version: string;
  build: string;
  /** Apple silicon only: IPSWs restore arm64 devices. */
  architecture: string;
  /** Product types the image restores, e.g. Mac14,2 and VirtualMac2,1, sorted. */
  devices: string[];
  /** The IPSW's file name and size. */
  name: string;
  size: number;
  /** Which plists the facts came from. */
  sources: string[];
}

/** Entries larger than this are not plists we want (BuildManifest.plist is a few MiB at most). */
const maxPlistBytes = 64 * 1024 * 1024;

/** Bytes per read of the zip's directory: yauzl reads each entry's header on its own, so reads are gathered into blocks. */
const blockBytes = 256 * 1024;
/** Blocks kept (the directory is read front to back, so a few suffice). */
const cachedBlocks = 8;
/** An entry's data larger than this streams instead of coming in one read. */
const oneReadBytes = 4 * 1024 * 1024;

function invalid(name: string, reason: string): OciError {
  return new OciError('INVALID_IMAGE', `${name} is not a usable IPSW: ${reason}`);
}

/** yauzl's reader over a ByteSource: small reads served from a few cached blocks, large ones streamed. */
class ByteSourceReader extends yauzl.RandomAccessReader {
  private readonly blocks = new Map<number, Promise<Buffer>>();

  constructor(private readonly source: ByteSource) {
    super();
  }

  private block(index: number): Promise<Buffer> {
    let block = this.blocks.get(index);
    if (block) {
      // Most recently used last.
      this.blocks.delete(index);
      this.blocks.set(index, block);
      return block;
    }
    const start = index * blockBytes;
    block = this.source.read(start, Math.min(blockBytes, this.source.size - start));
    block.catch(() => this.blocks.delete(index));
    this.blocks.set(index, block);
    while (this.blocks.size > cachedBlocks) this.blocks.delete(this.blocks.keys().next().value!);
    return block;
  }

  private async bytes(position: number, length: number): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > this.source.size) throw new Error(`read of ${length} bytes at ${position} is out of range (${this.source.size} bytes)`);
    const out = Buffer.alloc(length);
    for (let done = 0; done < length; ) {
      const at = position + done;
      const block = await this.block(Math.floor(at / blockBytes));
      const copied = block.copy(out, done, at % blockBytes, Math.min(block.length, (at % blockBytes) + length - done));
      if (copied === 0) throw new Error(`read at ${at} found no bytes (${this.source.size} bytes)`);
      done += copied;
    }
    return out;
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    this.bytes(position, length).then(
      (bytes) => {
        bytes.copy(buffer, offset);
        callback(null);
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    if (end - start > oneReadBytes) return this.source.stream(start, end);
    const bytes = this.bytes(start, end - start);
    return Readable.from((async function* () {
      yield await bytes;
    })());
  }
}

function openZip(source: ByteSource): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    const options = { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true };
    yauzl.fromRandomAccessReader(new ByteSourceReader(source), source.size, options, (error, zip) => {
      if (error || !zip) reject(error ?? new Error('no zip'));
      else resolve(zip);
    });
  });
}

function listEntries(zip: ZipFile): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

function readEntry(zip: ZipFile, entry: Entry): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error || !stream) return reject(error ?? new Error('no stream'));
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('end', () => resolve(Buffer.concat(chunks)));
      stream.once('error', reject);
    });
  });
}

/** Explains yauzl's messages in terms of what happened to the file. */
function describeZipError(path: string, size: number, error: unknown): OciError {
  const message = error instanceof Error ? error.message : String(error);
  if (/end of central directory record signature not found/i.test(message)) {
    return invalid(path, `it is not a zip archive (no zip directory at its end). An IPSW is a zip; check that the download finished and that this is the right file (${size} bytes).`);
  }
  if (/central directory|offset|truncated|unexpected EOF|out of range|zip64/i.test(message)) {
    return invalid(path, `its zip directory is cut off or damaged (${message}); the file looks truncated (${size} bytes). Download it again.`);
  }
  return invalid(path, `its zip archive cannot be read (${message}).`);
}

function parsePlist(bytes: Buffer, name: string, path: string): Record<string, unknown> {
  try {
    let value: unknown;
    if (bytes.subarray(0, 8).toString('latin1') === 'bplist00') value = parseBinaryPlist(bytes);
    else {
      const xml = bytes.toString('utf8');
      // Checked quietly first: the plist library's parser prints XML errors to the console.
      new DOMParser({ onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      } }).parseFromString(xml, 'text/xml');
      value = parseXmlPlist(xml);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('its top level is not a dictionary');
    return value as Record<string, unknown>;
  } catch (error) {
    throw invalid(path, `${name} is not a readable property list (${error instanceof Error ? error.message : String(error)}).`);
  }
}

function stringOf(plist: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = plist?.[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function stringsOf(plist: Record<string, unknown> | undefined, key: string): string[] {
  const value = plist?.[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

/** The OS an IPSW restores, from the product types it supports. */
export function osForDevices(devices: string[]): string | undefined {
  const families: [RegExp, string][] = [
    [/^(Mac|VirtualMac|iMac|MacBook)/, 'macOS'],
    [/^iPhone/, 'iOS'],
    [/^iPad/, 'iPadOS'],
    [/^AppleTV/, 'tvOS'],
    [/^Watch/, 'watchOS'],
    [/^RealityDevice/, 'visionOS'],
  ];
  for (const [pattern, os] of families) if (devices.some((d) => pattern.test(d))) return os;
  return undefined;
}

const versionPattern = /^\d+(\.\d+){0,3}$/;
const buildPattern = /^\d{1,3}[A-Z]\d{1,5}[a-z]?$/;

/**
 * Reads an IPSW's zip directory and plists; never reads the payload. Clear errors for anything
 * else. A path is opened (and closed) here; a ByteSource is the caller's to close.
 */
export async function inspectIpsw(pathOrSource: string | ByteSource): Promise<IpswInfo> {
  if (typeof pathOrSource !== 'string') return inspectSource(pathOrSource);
  const path = pathOrSource;
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new OciError('NOT_FOUND', `Cannot read ${path}: no such file`);
  if (!info.isFile()) throw new OciError('INVALID_IMAGE', `${path} is not a file`);
  if (info.size === 0) throw invalid(basename(path), 'the file is empty.');
  const source = await fileSource(path);
  try {
    return await inspectSource(source);
  } finally {
    await source.close();
  }
}

async function inspectSource(source: ByteSource): Promise<IpswInfo> {
  const path = source.name;
  if (source.size === 0) throw invalid(path, 'the file is empty.');
  const info = { size: source.size };
  let zip: ZipFile;
  try {
    zip = await openZip(source);
  } catch (error) {
    if (error instanceof OciError) throw error;
    throw describeZipError(path, info.size, error);
  }
  try {
    let entries: Entry[];
    try {
      entries = await listEntries(zip);
    } catch (error) {
      if (error instanceof OciError) throw error;
      throw describeZipError(path, info.size, error);
    }
    const find = (name: string) => entries.find((e) => e.fileName === name) ?? entries.find((e) => e.fileName.split('/').pop() === name);
    const buildManifestEntry = find('BuildManifest.plist');
    const restoreEntry = find('Restore.plist');
    if (!buildManifestEntry && !restoreEntry) {
      throw invalid(path, `it is a zip archive but holds neither BuildManifest.plist nor Restore.plist (${entries.length} entries), so it is not an Apple restore image.`);
    }
    const plists: Record<string, Record<string, unknown>> = {};
    for (const entry of [buildManifestEntry, restoreEntry]) {
      if (!entry) continue;
      if (entry.uncompressedSize > maxPlistBytes) throw invalid(path, `${entry.fileName} is ${entry.uncompressedSize} bytes, too large for a property list.`);
      let bytes: Buffer;
      try {
        bytes = await readEntry(zip, entry);
      } catch (error) {
        if (error instanceof OciError) throw error;
        throw invalid(path, `${entry.fileName} cannot be extracted (${error instanceof Error ? error.message : String(error)}); the file may be truncated or damaged.`);
      }
      plists[entry.fileName.split('/').pop()!] = parsePlist(bytes, entry.fileName, path);
    }
    const manifest = plists['BuildManifest.plist'];
    const restore = plists['Restore.plist'];
    const version = stringOf(manifest, 'ProductVersion') ?? stringOf(restore, 'ProductVersion');
    const build = stringOf(manifest, 'ProductBuildVersion') ?? stringOf(restore, 'ProductBuildVersion');
    if (!version || !build) throw invalid(path, 'its BuildManifest.plist / Restore.plist name no ProductVersion or ProductBuildVersion.');
    for (const [key, plist] of [['Restore.plist', restore]] as const) {
      const otherVersion = stringOf(plist, 'ProductVersion');
      const otherBuild = stringOf(plist, 'ProductBuildVersion');
      if ((otherVersion && otherVersion !== version) || (otherBuild && otherBuild !== build)) {
        throw invalid(path, `BuildManifest.plist says ${version} (${build}) but ${key} says ${otherVersion ?? '?'} (${otherBuild ?? '?'}); the archive is inconsistent.`);
      }
    }
    if (!versionPattern.test(version)) throw invalid(path, `its ProductVersion "${version}" is not a version number.`);
    if (!buildPattern.test(build)) throw invalid(path, `its ProductBuildVersion "${build}" is not an Apple build number.`);
    const devices = [...new Set([...stringsOf(manifest, 'SupportedProductTypes'), ...stringsOf(restore, 'SupportedProductTypes')])].sort();
    const os = osForDevices(devices);
    if (!os) throw invalid(path, devices.length ? `its supported devices (${devices.slice(0, 5).join(', ')}) belong to no Apple OS we know.` : 'it names no supported devices (SupportedProductTypes).');
    return { os, version, build, architecture: 'arm64', devices, name: source.name, size: info.size, sources: Object.keys(plists) };
  } finally {
    zip.close();
  }
}
