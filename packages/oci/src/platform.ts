import { arch, platform as osPlatform } from 'node:process';
import { OciError } from './errors.ts';
import type { Descriptor, ImageIndex, Platform } from './manifest.ts';

/** This host's platform in OCI terms (GOOS/GOARCH names). */
export function hostPlatform(): Platform {
  const os = osPlatform === 'win32' ? 'windows' : osPlatform;
  const architecture = arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
  return { os, architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(value: string): Platform {
  const [os, architecture, variant, ...rest] = value.split('/');
  if (!os || !architecture || rest.length > 0) throw new OciError('INVALID_REFERENCE', `Invalid platform "${value}": expected os/arch[/variant], e.g. darwin/arm64`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

function normaliseOs(os: string): string {
  // Cider images of macOS say "macOS" (DESIGN.md); the host says "darwin".
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

function variantMatches(wanted: Platform, candidate: Platform): boolean {
  if (!wanted.variant || !candidate.variant) return true;
  return wanted.variant === candidate.variant;
}

/** Picks the manifest for `wanted` from an index (os and architecture must match; variant when both say one). */
export function selectPlatform(index: ImageIndex, wanted: Platform): Descriptor {
  const candidates = index.manifests.filter(
    (d) =>
      d.platform &&
      normaliseOs(d.platform.os) === normaliseOs(wanted.os) &&
      d.platform.architecture === wanted.architecture &&
      variantMatches(wanted, d.platform),
  );
  // Prefer an exact variant match.
  const exact = candidates.find((d) => d.platform?.variant === wanted.variant);
  const chosen = exact ?? candidates[0];
  if (!chosen) {
    const available = index.manifests.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new OciError('NO_MATCHING_PLATFORM', `No image for platform ${formatPlatform(wanted)} in this index (available: ${available || 'none'})`);
  }
  return chosen;
}
