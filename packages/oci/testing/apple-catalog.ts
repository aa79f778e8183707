// Apple's restore-image catalog for tests, in its real format (apple/types.ts): builds listed
// under several product types, grouped the way Apple's file groups them, and optionally one
// record that is malformed the way a hostile or broken catalog could be.
import { build as buildPlist, type PlistValue } from 'plist';

export interface CatalogEntry {
  version: string;
  build: string;
  url: string;
  sha1?: string;
  /** Product types listing it; VirtualMac2,1 and two Macs by default. */
  devices?: string[];
}

export function makeAppleCatalog(entries: CatalogEntry[], options: { malformed?: boolean } = {}): string {
  const byDevice: Record<string, Record<string, PlistValue>> = {};
  for (const entry of entries) {
    for (const device of entry.devices ?? ['VirtualMac2,1', 'Mac14,2', 'Mac15,3']) {
      byDevice[device] ??= {};
      byDevice[device][entry.build] = {
        Restore: {
          BuildVersion: entry.build,
          ...(entry.sha1 ? { FirmwareSHA1: entry.sha1 } : {}),
          FirmwareURL: entry.url,
          ProductVersion: entry.version,
        },
      };
    }
  }
  // A record with no FirmwareURL and a nonsense version: to be skipped, not to fail the catalog.
  if (options.malformed) byDevice['VirtualMac2,1'] = { ...byDevice['VirtualMac2,1'], '99Z1': { Restore: { BuildVersion: '99Z1', ProductVersion: 'fifteen' } }, broken: 'not a dictionary' };
  const catalog: PlistValue = { MobileDeviceSoftwareVersionsByVersion: { '1': { MobileDeviceSoftwareVersions: byDevice } } };
  return buildPlist(catalog);
}
