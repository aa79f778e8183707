// What each kind of server task carries in its row's `params`, checked when it is created and
// again when control runs it. Small by construction: ids, a few names, a path, capped lists.
import { z } from 'zod';

const tag = z.string().regex(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/, 'A tag is letters, digits, ".", "_" or "-", at most 128 characters, not starting with "." or "-".');

export const publishAppleParams = z.object({
  version: z.string().max(32),
  build: z.string().max(32),
  /** Taken from the catalog by the server, never from the browser. */
  url: z.string().url().max(2048),
  sha1: z.string().regex(/^[0-9a-f]{40}$/).optional(),
  registryId: z.string().uuid(),
  registryHost: z.string().max(255),
  repository: z.string().min(1).max(255),
  tags: z.array(tag).min(1).max(10),
});
export type PublishAppleParams = z.infer<typeof publishAppleParams>;

export const bundleExportParams = z.object({
  projectId: z.string().uuid(),
  projectName: z.string().max(200),
  /** Absolute, inside CIDER_BUNDLE_DIR (./bundle-path.ts), checked again when it runs. */
  path: z.string().min(1).max(4096),
  /** `<registry>/<repository>:<tag>@<digest>`, one per pin when the task was created. */
  references: z.array(z.string().max(1024)).min(1).max(500),
  registryIds: z.array(z.string().uuid()).min(1).max(500),
});
export type BundleExportParams = z.infer<typeof bundleExportParams>;

export type TaskParams = { kind: 'publish-apple'; params: PublishAppleParams } | { kind: 'bundle-export'; params: BundleExportParams };

/** The row's params as its kind says they are; a row that does not parse is reported, not run. */
export function parseTaskParams(kind: 'publish-apple' | 'bundle-export', params: unknown): TaskParams {
  return kind === 'publish-apple' ? { kind, params: publishAppleParams.parse(params) } : { kind, params: bundleExportParams.parse(params) };
}
