// What server tasks and the bundle download need from @cider/oci, behind one small interface:
// the services here own the task lifecycle (rows, progress, cancel, audit), and these functions
// own the bytes. ./oci-runners.ts is the real implementation; tests of the lifecycle may give
// their own (a runner that waits to be cancelled, say) without a registry or Apple's catalog.
import type { BundlePlan, BundleProgress, RegistryClient, RestoreImage } from '@cider/oci';
import type { Writable } from 'node:stream';

export interface TaskProgress {
  bytesDone: number;
  bytesTotal: number | null;
  /** What it is doing now, shown under the bar. */
  message?: string;
}

export interface PublishFromAppleInput {
  /** Holds the target registry's credential (services/registries clientFor). */
  client: RegistryClient;
  image: RestoreImage;
  /** `<registry host>/<repository>`. */
  repository: string;
  tags: string[];
  /** The registry's tag policy: refuse to move an existing tag. */
  immutableTags: boolean;
  onProgress(progress: TaskProgress): void;
  signal: AbortSignal;
}

export interface PublishFromAppleResult {
  digest: string;
  /** Full references, one per tag. */
  references: string[];
  size: number;
}

export interface BundleInput {
  /** Holds the credentials of every registry the references name. */
  client: RegistryClient;
  /** `<registry>/<repository>:<tag>@<digest>`: the digest is what is exported, the tag names it. */
  references: string[];
  signal: AbortSignal;
}

export interface ServerTaskRunners {
  /** Apple's restore-image catalog at `url`, newest first. */
  fetchAppleCatalog(url: string, signal: AbortSignal): Promise<RestoreImage[]>;
  /** The size of the restore image at `url` (the catalog gives none): one small ranged request. */
  restoreImageSize(url: string, signal: AbortSignal): Promise<number>;
  /** Streams the IPSW from Apple's URL into the registry (never to local disk), its SHA-1 checked. */
  publishFromApple(input: PublishFromAppleInput): Promise<PublishFromAppleResult>;
  /** What a bundle of these images holds, and its exact tar size. */
  planBundle(input: BundleInput): Promise<BundlePlan>;
  /** Writes a planned bundle to `output`, honouring backpressure. */
  writeBundle(plan: BundlePlan, input: { client: RegistryClient; output: Writable; signal: AbortSignal; onProgress?: (progress: BundleProgress) => void }): Promise<void>;
  /** Plans and writes a bundle to `path` (`.partial`, renamed when complete; never overwrites). */
  exportBundle(input: BundleInput & { path: string; onProgress: (progress: BundleProgress) => void }): Promise<BundlePlan>;
}
