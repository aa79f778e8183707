// Apple's restore-image catalog: parsed from its real format (testing/apple-catalog.ts), bounded,
// skipping what makes no sense; versions compared as numbers; picking by version, build or newest;
// fetched from a real server on 127.0.0.1 with clear errors.
import { afterEach, describe, expect, it } from 'vitest';
import { makeAppleCatalog, startRangeServer, type RangeServer } from '../../testing/index.ts';
import { compareVersions, fetchAppleCatalog, maxCatalogBytes, parseAppleCatalog, pickRestoreImage } from './catalog.ts';

const sha1 = 'ab'.repeat(20);
const entries = [
  { version: '15.2', build: '24C101', url: 'https://updates.example/15.2.ipsw', sha1 },
  { version: '15.10', build: '24K10', url: 'https://updates.example/15.10.ipsw' },
  { version: '14.7.1', build: '23H222', url: 'https://updates.example/14.7.1.ipsw', devices: ['Mac14,2'] },
  { version: '15.1', build: '24B83', url: 'https://updates.example/15.1.ipsw' },
  { version: '15.1.1', build: '24B91', url: 'https://updates.example/15.1.1.ipsw' },
];

describe('Apple restore-image catalog', () => {
  let server: RangeServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('lists one image per build, newest first by numeric version, skipping malformed records', () => {
    const images = parseAppleCatalog(makeAppleCatalog(entries, { malformed: true }));
    expect(images.map((i) => i.version)).toEqual(['15.10', '15.2', '15.1.1', '15.1', '14.7.1']);
    expect(images[1]).toEqual({ version: '15.2', build: '24C101', url: 'https://updates.example/15.2.ipsw', sha1, devices: ['VirtualMac2,1', 'Mac14,2', 'Mac15,3'] });
    expect(images.find((i) => i.build === '23H222')?.devices).toEqual(['Mac14,2']);
    expect(compareVersions('15.10', '15.2')).toBeGreaterThan(0);
    expect(compareVersions('15', '15.0')).toBeLessThan(0);
  });

  it('refuses a catalog with no usable image, one that is not a plist, and one too large', () => {
    expect(() => parseAppleCatalog(makeAppleCatalog([], { malformed: true }))).toThrow(/lists no usable restore image/);
    expect(() => parseAppleCatalog('<html>not a plist')).toThrow(/is not a property list/);
    expect(() => parseAppleCatalog(Buffer.alloc(maxCatalogBytes + 1, 32))).toThrow(/more than the 16777216 a catalog can be/);
  });

  it('picks an exact version, the newest of a prefix, a build, or the newest for the virtual Mac; lists what exists otherwise', () => {
    const images = parseAppleCatalog(makeAppleCatalog(entries));
    expect(pickRestoreImage(images, { macos: '15.1' }).build).toBe('24B83');
    expect(pickRestoreImage(images, { macos: '15' }).version).toBe('15.10');
    expect(pickRestoreImage(images, { macos: '14' }).version).toBe('14.7.1');
    expect(pickRestoreImage(images, { build: '24c101' }).version).toBe('15.2');
    expect(pickRestoreImage(images, { latest: true }).version).toBe('15.10');
    expect(pickRestoreImage(images.filter((i) => i.version !== '15.10'), { latest: true }).version).toBe('15.2');
    expect(() => pickRestoreImage(images, { macos: '13' })).toThrow('The restore-image catalog has no macOS 13. It has: 15.10 (24K10), 15.2 (24C101), 15.1.1 (24B91), 15.1 (24B83), 14.7.1 (23H222)');
    expect(() => pickRestoreImage(images, { build: '22A1' })).toThrow(/has no build 22A1\. It has: 15\.10/);
    expect(() => pickRestoreImage(images, { macos: 'latest' })).toThrow(/is not a macOS version/);
  });

  it('fetches a catalog over HTTP, following redirects, with clear errors for a missing one', async () => {
    server = await startRangeServer({ files: { '/catalog.xml': Buffer.from(makeAppleCatalog(entries)) } });
    expect((await fetchAppleCatalog(server.redirecting('/catalog.xml', 2))).length).toBe(5);
    await expect(fetchAppleCatalog(server.url('/gone.xml'))).rejects.toThrow(`No restore-image catalog at ${server.url('/gone.xml')} (HTTP 404)`);
    const origin = server.origin;
    await server.close();
    server = undefined;
    await expect(fetchAppleCatalog(`${origin}/catalog.xml`)).rejects.toThrow(/Cannot fetch the catalog at .*: connection refused/);
  });
});
