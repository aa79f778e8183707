// Offline bundles (issue 12): one OCI image layout as a tar, the format skopeo, oras and crane
// exchange as `oci-archive`. This file is the contract the CLI (`cider bundle`), the dashboard
// (a project's pins as a download, or written server-side) and the tests share; ./index.ts
// implements it.
//
// Layout inside the tar, in this order, so a reader meets the plan before the bytes:
//   oci-layout                      {"imageLayoutVersion":"1.0.0"}
//   index.json                      one entry per exported image: ref name "<repository>:<tag>"
//                                   (skopeo: oci-archive:site.tar:<repository>:<tag>), plus
//                                   io.ciderfleet.reference = the full source reference
//   blobs/sha256/<hex>              manifests and indexes first, then configs, then layers; each
//                                   blob once, whatever number of images share it. Referrers
//                                   (SBOMs, signatures) of every image ride along as manifests
//                                   with a subject.
import type { Writable } from 'node:stream';
import type { Digest } from '../digest.ts';
import type { Descriptor } from '../manifest.ts';
import type { RegistryClient } from '../registry/client.ts';

/** Annotation on an index.json entry: the reference the image was exported from. */
export const bundleReferenceAnnotation = 'io.ciderfleet.reference';

export interface BundleImage {
  /** What was asked for, as typed (`registry/repo:tag` or `@digest`). */
  reference: string;
  /** The repository path inside the registry (`demo/macos`). */
  repository: string;
  tag?: string;
  /** The manifest (or index) digest: what a pin would freeze. */
  digest: Digest;
  /** The index.json ref name: `<repository>:<tag>` (or `<repository>@<hex>` without a tag). */
  refName: string;
  /** Referrer manifests of this image carried in the bundle. */
  referrers: Descriptor[];
}

export interface BundleBlob {
  digest: Digest;
  size: number;
  mediaType: string;
  /** What it is: manifests (and indexes) are read through the manifests endpoint. */
  kind: 'manifest' | 'config' | 'layer';
  /** Registry to read it from on export (`127.0.0.1:5000`, `ghcr.io`). */
  registry: string;
  /** Repository of that registry to read it from on export. */
  repository: string;
}

/** What a bundle will hold, known before a byte of it is written: so its exact tar size too. */
export interface BundlePlan {
  images: BundleImage[];
  /** Every blob once, in tar order. */
  blobs: BundleBlob[];
  /** Exact size of the tar that writeBundle() writes (a download's Content-Length). */
  tarBytes: number;
  /** Sum of the blobs' sizes. */
  contentBytes: number;
}

export interface BundleProgress {
  bytesDone: number;
  bytesTotal: number;
  /** The blob being copied. */
  digest?: Digest;
}

export interface PlanBundleOptions {
  client: RegistryClient;
  references: string[];
  /** Carry each image's referrers (default true). */
  referrers?: boolean;
  signal?: AbortSignal;
}

export interface WriteBundleOptions {
  client: RegistryClient;
  /** Where the tar goes; backpressure is honoured, so memory stays flat at any size. */
  output: Writable;
  onProgress?: (progress: BundleProgress) => void;
  signal?: AbortSignal;
}

export interface ExportBundleOptions extends PlanBundleOptions {
  /** The tar file to write: written as `<path>.partial`, renamed once complete; never overwrites. */
  path: string;
  onProgress?: (progress: BundleProgress) => void;
}

export interface ImportBundleOptions {
  client: RegistryClient;
  /** The bundle file (a tar: ours, or skopeo's / oras's oci-archive). */
  path: string;
  /** `<registry>[/prefix]`: each image goes to `<registry>/<prefix>/<repository>:<tag>`. */
  target: string;
  onProgress?: (progress: BundleProgress & { skipped: number; mounted: number }) => void;
  signal?: AbortSignal;
}

export interface ImportBundleResult {
  images: { refName: string; reference: string; digest: Digest }[];
  uploaded: number;
  /** Blobs the registry already had (a resumed import, or content shared with other images). */
  skipped: number;
  mounted: number;
  bytesUploaded: number;
}

export interface VerifyBundleResult {
  ok: boolean;
  images: { refName: string; digest: Digest }[];
  blobs: number;
  bytes: number;
  /** Every problem found, each naming the blob or entry. */
  problems: { digest?: string; entry?: string; reason: string }[];
}
