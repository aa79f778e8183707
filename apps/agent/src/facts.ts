// Host facts for heartbeats. Everything here is portable Node except the macOS product version,
// which comes from a system tool behind a small interface (so tests on Linux run the same code).
import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import os from 'node:os';
import type { SpaceRefusal } from '@cider/oci';
import type { HostFacts, NodeCondition } from '@cider/protocol';

export interface OsVersionSource {
  /** e.g. "15.2" on macOS (sw_vers -productVersion); undefined when unknown. */
  productVersion(): Promise<string | undefined>;
}

/** macOS: `sw_vers -productVersion`. */
export const swVers: OsVersionSource = {
  productVersion: () =>
    new Promise((resolve) => {
      execFile('/usr/bin/sw_vers', ['-productVersion'], { timeout: 5_000 }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined));
    }),
};

/** Elsewhere: the kernel's own version string. */
export const kernelVersion: OsVersionSource = { productVersion: async () => os.version() };

export function defaultOsVersionSource(): OsVersionSource {
  return process.platform === 'darwin' ? swVers : kernelVersion;
}

/** Heartbeats carry at most this many conditions (the protocol's bound). */
const maxConditions = 8;

/**
 * Pulls refused for want of space that the disk still cannot take, as node conditions: the
 * control plane holds their digests back and the dashboard shows them until the disk has room.
 */
export function spaceConditions(refusals: SpaceRefusal[]): NodeCondition[] {
  return refusals.slice(0, maxConditions).map((refusal) => ({
    type: 'insufficient-space' as const,
    digest: refusal.digest,
    ...(refusal.reference ? { reference: refusal.reference.slice(0, 512) } : {}),
    neededBytes: refusal.neededBytes,
    freeBytes: refusal.freeBytes,
    since: refusal.since,
  }));
}

export async function collectFacts(
  cacheDir: string,
  cacheBytes: number,
  quotaBytes: number | undefined,
  versions: OsVersionSource,
  conditions: NodeCondition[] = [],
): Promise<HostFacts> {
  const disk = await statfs(cacheDir);
  const cpus = os.cpus();
  const version = await versions.productVersion();
  return {
    hostname: os.hostname(),
    os: { platform: process.platform === 'darwin' ? 'macOS' : process.platform, release: os.release(), ...(version ? { version } : {}) },
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length },
    memoryBytes: os.totalmem(),
    disk: { totalBytes: disk.blocks * disk.bsize, freeBytes: disk.bavail * disk.bsize },
    cache: { path: cacheDir, bytes: cacheBytes, ...(quotaBytes ? { quotaBytes } : {}) },
    conditions: conditions.slice(0, maxConditions),
  };
}
