// Apple's macOS restore-image catalog (./types.ts has the format): read, bounded, into one
// RestoreImage per build, newest first; and the choice of one by version, build or "latest".
// The catalog is someone else's file fetched over the network, so it is treated as hostile: a
// size cap, a cap on the entries walked, entries that make no sense skipped (an error only when
// none is usable), and every string checked before it reaches a message or a URL we fetch.
import { DOMParser } from '@xmldom/xmldom';
import { parse as parseXmlPlist } from 'plist';
import { OciError } from '../errors.ts';
import { getFollowingRedirects } from '../http/download.ts';
import { HttpClient } from '../http/http-client.ts';
import { describeNetworkError, errorCode, isTransientNetworkError } from '../http/transport.ts';
import { defaultAppleCatalogUrl, type RestoreImage, type RestoreImageQuery } from './types.ts';

/** The real catalog is about 100 KiB; anything near this is not it. */
export const maxCatalogBytes = 16 * 1024 * 1024;
/** Restore records walked (product type x build); the real catalog has a few hundred. */
const maxRecords = 20_000;
const maxRedirects = 5;
const defaultTimeoutMs = 60_000;

/** The product type of Apple's virtual Mac: the images Virtualization.framework restores. */
export const virtualMacProductType = 'VirtualMac2,1';

const versionPattern = /^\d{1,3}(\.\d{1,4}){0,3}$/;
const buildPattern = /^\d{1,3}[A-Z]\d{1,5}[a-z]?$/;
const sha1Pattern = /^[0-9a-f]{40}$/;
const productTypePattern = /^[A-Za-z]{1,32}\d{1,4},\d{1,4}$/;

function catalogError(reason: string): OciError {
  return new OciError('INVALID_IMAGE', `Apple's restore-image catalog cannot be used: ${reason}`);
}

function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !Buffer.isBuffer(value);
}

/** Numeric, component by component: 15.10 > 15.2 > 15 (a missing component counts as 0, then shorter first). */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Apple build numbers: 24C101 < 24D60 < 25A354 (major, letter, number, then a suffix letter). */
export function compareBuilds(a: string, b: string): number {
  const parse = (build: string) => {
    const m = /^(\d+)([A-Z])(\d+)([a-z]?)$/.exec(build);
    return m ? [Number(m[1]), m[2]!.charCodeAt(0), Number(m[3]), m[4] ? m[4].charCodeAt(0) : 0] : [0, 0, 0, 0];
  };
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** Newest first: by version, then build. */
export function newestFirst(a: RestoreImage, b: RestoreImage): number {
  return compareVersions(b.version, a.version) || compareBuilds(b.build, a.build);
}

function stringAt(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value.trim() : undefined;
}

/** One Restore record as a RestoreImage without devices, or undefined when it makes no sense. */
function restoreOf(record: unknown): Omit<RestoreImage, 'devices'> | undefined {
  if (!isDict(record)) return undefined;
  const restore = record.Restore;
  if (!isDict(restore)) return undefined;
  const version = stringAt(restore, 'ProductVersion');
  const build = stringAt(restore, 'BuildVersion');
  const url = stringAt(restore, 'FirmwareURL');
  if (!version || !versionPattern.test(version) || !build || !buildPattern.test(build) || !url || url.length > 2048) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const sha1 = stringAt(restore, 'FirmwareSHA1')?.toLowerCase();
  return { version, build, url: parsed.toString(), ...(sha1 && sha1Pattern.test(sha1) ? { sha1 } : {}) };
}

/** The catalog's plist as RestoreImages, one per build, newest first. */
export function parseAppleCatalog(xml: string | Buffer): RestoreImage[] {
  const size = typeof xml === 'string' ? Buffer.byteLength(xml) : xml.length;
  if (size > maxCatalogBytes) throw catalogError(`it is ${size} bytes, more than the ${maxCatalogBytes} a catalog can be`);
  const text = typeof xml === 'string' ? xml : xml.toString('utf8');
  let root: unknown;
  try {
    // Checked quietly first: the plist library's parser prints XML errors to the console.
    new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(text, 'text/xml');
    root = parseXmlPlist(text);
  } catch (error) {
    throw catalogError(`it is not a property list (${(error instanceof Error ? error.message : String(error)).slice(0, 200)})`);
  }
  if (!isDict(root) || !isDict(root.MobileDeviceSoftwareVersionsByVersion)) throw catalogError('it has no MobileDeviceSoftwareVersionsByVersion dictionary');

  const byBuild = new Map<string, Omit<RestoreImage, 'devices'> & { devices: Set<string> }>();
  let records = 0;
  for (const group of Object.values(root.MobileDeviceSoftwareVersionsByVersion)) {
    if (!isDict(group) || !isDict(group.MobileDeviceSoftwareVersions)) continue;
    for (const [productType, builds] of Object.entries(group.MobileDeviceSoftwareVersions)) {
      if (!productTypePattern.test(productType) || !isDict(builds)) continue;
      for (const record of Object.values(builds)) {
        if (++records > maxRecords) throw catalogError(`it lists more than ${maxRecords} restore records`);
        const image = restoreOf(record);
        if (!image) continue;
        const known = byBuild.get(image.build);
        if (!known) byBuild.set(image.build, { ...image, devices: new Set([productType]) });
        else if (known.version === image.version) {
          known.devices.add(productType);
          // The virtual Mac's record wins where devices disagree on the file.
          if (productType === virtualMacProductType) Object.assign(known, { url: image.url, sha1: image.sha1 ?? known.sha1 });
        }
      }
    }
  }
  if (byBuild.size === 0) throw catalogError('it lists no usable restore image (each needs a ProductVersion, BuildVersion and an http(s) FirmwareURL)');
  const sortDevices = (devices: Set<string>) => [...devices].sort((a, b) => (a === virtualMacProductType ? -1 : b === virtualMacProductType ? 1 : a.localeCompare(b)));
  return [...byBuild.values()]
    .map(({ devices, ...image }) => ({ ...(image.sha1 === undefined ? { version: image.version, build: image.build, url: image.url } : image), devices: sortDevices(devices) }))
    .sort(newestFirst);
}

function listOf(images: RestoreImage[]): string {
  const shown = [...images].sort(newestFirst).slice(0, 15).map((image) => `${image.version} (${image.build})`);
  return shown.join(', ') + (images.length > shown.length ? `, and ${images.length - shown.length} older` : '');
}

/**
 * The image a query names:
 * - `{ build }`: that build (case-insensitive).
 * - `{ macos }`: that exact version when listed; else the newest whose version starts with it
 *   component-wise, so `15` is the newest 15.x and `15.1` (when only 15.1.1 is listed) is 15.1.1.
 * - `{ latest }`: the newest image the virtual Mac (VirtualMac2,1) restores; the newest of all
 *   when no image names its devices.
 * A query that matches nothing is an error listing what the catalog has.
 */
export function pickRestoreImage(images: RestoreImage[], query: RestoreImageQuery): RestoreImage {
  const sorted = [...images].sort(newestFirst);
  if (sorted.length === 0) throw new OciError('NOT_FOUND', 'The restore-image catalog lists no images');
  if ('latest' in query) return sorted.find((image) => image.devices.includes(virtualMacProductType)) ?? sorted[0]!;
  if ('build' in query) {
    const found = sorted.find((image) => image.build.toLowerCase() === query.build.trim().toLowerCase());
    if (!found) throw new OciError('NOT_FOUND', `The restore-image catalog has no build ${query.build}. It has: ${listOf(sorted)}`);
    return found;
  }
  const wanted = query.macos.trim().replace(/^macos\s*/i, '');
  if (!versionPattern.test(wanted)) throw new OciError('INVALID_REFERENCE', `"${query.macos}" is not a macOS version (e.g. 15, 15.2 or 15.2.1)`);
  const exact = sorted.find((image) => image.version === wanted);
  const prefix = wanted.split('.');
  const found = exact ?? sorted.find((image) => prefix.every((part, i) => image.version.split('.')[i] === part));
  if (!found) throw new OciError('NOT_FOUND', `The restore-image catalog has no macOS ${wanted}. It has: ${listOf(sorted)}`);
  return found;
}

export interface FetchCatalogOptions {
  signal?: AbortSignal;
  /** The whole fetch, redirects included (default 60 s). */
  timeoutMs?: number;
  userAgent?: string;
}

/** Fetches and parses the catalog (default: Apple's); a clear error for every way that fails. */
export async function fetchAppleCatalog(url: string = defaultAppleCatalogUrl, options: FetchCatalogOptions = {}): Promise<RestoreImage[]> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new OciError('INVALID_REFERENCE', `"${url}" is not a catalog URL`);
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') throw new OciError('INVALID_REFERENCE', `${url}: the catalog is read over http or https only`);
  const shown = `${target.origin}${target.pathname}`;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const client = new HttpClient({ maxSocketsPerOrigin: 1 });
  try {
    const response = await getFollowingRedirects(client, target, {
      headers: { 'user-agent': options.userAgent ?? 'cider', accept: 'application/xml, text/xml, */*' },
      signal,
      maxRedirects,
      what: `The catalog at ${shown}`,
    });
    const status = response.statusCode;
    if (status === 404 || status === 410) {
      response.body.destroy();
      throw new OciError('NOT_FOUND', `No restore-image catalog at ${shown} (HTTP ${status}); check --catalog or $CIDER_APPLE_CATALOG_URL`);
    }
    if (status !== 200) {
      response.body.destroy();
      throw new OciError('UNREACHABLE', `The catalog at ${shown} answered HTTP ${status}`, { retryable: status >= 500 || status === 429 });
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared > maxCatalogBytes) {
      response.body.destroy();
      throw catalogError(`${shown} is ${declared} bytes, more than the ${maxCatalogBytes} a catalog can be`);
    }
    const body = await response.body.buffer(maxCatalogBytes);
    return parseAppleCatalog(body);
  } catch (error) {
    if (error instanceof OciError) throw error;
    if (timeout.aborted && !options.signal?.aborted) throw new OciError('UNREACHABLE', `Fetching the catalog at ${shown} took more than ${Math.round(timeoutMs / 1000)} s`, { cause: error });
    if (options.signal?.aborted) throw options.signal.reason;
    if (errorCode(error) === 'EBODYTOOLARGE') throw catalogError(`${shown} is more than the ${maxCatalogBytes} bytes a catalog can be`);
    throw new OciError('UNREACHABLE', `Cannot fetch the catalog at ${shown}: ${describeNetworkError(error, 'server')}`, { cause: error, retryable: isTransientNetworkError(error) });
  } finally {
    client.close();
  }
}
