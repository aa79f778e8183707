// Apple's public macOS restore-image catalog (issue 12): the property list at
// https://mesu.apple.com/assets/macos/com_apple_macOSIPSW/com_apple_macOSIPSW.xml that
// Virtualization.framework's "latest supported" restore image comes from:
//   MobileDeviceSoftwareVersionsByVersion -> <n> -> MobileDeviceSoftwareVersions
//     -> <product type, e.g. VirtualMac2,1> -> <build> -> Restore
//        { BuildVersion, ProductVersion, FirmwareURL, FirmwareSHA1 }
// This file is the contract the CLI (`cider image fetch`, `cider image available`) and the
// dashboard's "Publish from Apple" share; ./catalog.ts implements it.

export const defaultAppleCatalogUrl = 'https://mesu.apple.com/assets/macos/com_apple_macOSIPSW/com_apple_macOSIPSW.xml';

/** One restore image the catalog offers (one per build, whatever number of devices list it). */
export interface RestoreImage {
  version: string;
  build: string;
  url: string;
  /** Hex SHA-1 of the IPSW, as Apple publishes it (absent when the catalog gives none). */
  sha1?: string;
  /** Product types that list this build, sorted (VirtualMac2,1 first when present). */
  devices: string[];
}

/** Which image to pick: an exact version or build, or the newest. */
export type RestoreImageQuery = { macos: string } | { build: string } | { latest: true };
