// Synthetic IPSWs for tests and benchmarks: a real zip (yazl) with real XML plists, laid out like
// Apple's (BuildManifest.plist, Restore.plist, a large restore disk image, some firmware), with
// a random payload of the size asked for.
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { build as buildPlist, type PlistValue } from 'plist';
import yazl from 'yazl';
import { writeRandomFile } from './files.ts';

export interface SyntheticIpswOptions {
  dir: string;
  version?: string;
  build?: string;
  devices?: string[];
  /** Bytes of the random restore disk image inside. */
  payloadBytes?: number;
  /** Write zip64 records even when the archive is small (as IPSWs over 4 GiB have). */
  zip64?: boolean;
  /** Leave out BuildManifest.plist / Restore.plist. */
  withoutBuildManifest?: boolean;
  withoutRestorePlist?: boolean;
  /** Replace BuildManifest.plist's bytes (e.g. with something that is not a plist). */
  buildManifestBytes?: Buffer;
  /** File name; UniversalMac_<version>_<build>_Restore.ipsw by default. */
  name?: string;
}

export const defaultMacDevices = ['Mac13,1', 'Mac14,2', 'Mac14,7', 'Mac15,3', 'VirtualMac2,1'];

export async function makeSyntheticIpsw(options: SyntheticIpswOptions): Promise<string> {
  const version = options.version ?? '15.2';
  const build = options.build ?? '24C101';
  const devices = options.devices ?? defaultMacDevices;
  const path = join(options.dir, options.name ?? `UniversalMac_${version}_${build}_Restore.ipsw`);
  const disk = join(options.dir, `payload-${process.pid}-${Date.now()}.dmg`);
  await writeRandomFile(disk, options.payloadBytes ?? 1024 * 1024);

  const buildManifest: PlistValue = {
    BuildIdentities: devices.map((device, i) => ({
      ApBoardID: `0x${(i + 2).toString(16).padStart(2, '0')}`,
      ApChipID: '0x8103',
      Info: { BuildNumber: build, DeviceClass: `j${300 + i}ap`, RestoreBehavior: 'Erase', Variant: 'macOS Customer' },
      Manifest: { OS: { Info: { Path: '090-12345-001.dmg' } } },
    })),
    BuildManifestVersion: 0x10000,
    ManifestVersion: 0,
    ProductBuildVersion: build,
    ProductVersion: version,
    SupportedProductTypes: devices,
  };
  const restore: PlistValue = {
    DeviceMap: devices.map((device, i) => ({ BDID: i + 2, BoardConfig: `j${300 + i}ap`, CPID: 0x8103, Platform: 't8103' })),
    ProductBuildVersion: build,
    ProductVersion: version,
    SupportedProductTypes: devices,
  };

  const zip = new yazl.ZipFile();
  const entryOptions = { forceZip64Format: options.zip64 === true, mtime: new Date('2024-12-10T00:00:00Z') };
  if (!options.withoutBuildManifest) zip.addBuffer(options.buildManifestBytes ?? Buffer.from(buildPlist(buildManifest)), 'BuildManifest.plist', { ...entryOptions, compress: true });
  if (!options.withoutRestorePlist) zip.addBuffer(Buffer.from(buildPlist(restore)), 'Restore.plist', { ...entryOptions, compress: true });
  zip.addBuffer(Buffer.from('firmware'), 'Firmware/all_flash/iBoot.j314s.RELEASE.im4p', { ...entryOptions, compress: true });
  // Apple stores the large disk images uncompressed.
  zip.addFile(disk, '090-12345-001.dmg', { ...entryOptions, compress: false });
  zip.end({ forceZip64Format: options.zip64 === true, comment: '' });
  await pipeline(zip.outputStream, createWriteStream(path));
  await rm(disk, { force: true });
  return path;
}
