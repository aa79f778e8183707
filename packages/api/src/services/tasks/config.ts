// How this deployment runs server tasks: parsed from the environment by each app (web, control)
// and handed to createServiceDeps. Registry credentials are not here: a task reads them from the
// registry's row when it runs, in the control plane.
import { isAbsolute } from 'node:path';
import { defaultAppleCatalogUrl } from '@cider/oci';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';
import type { ServerTaskRunners } from './runners.ts';

export interface ServerTaskConfig {
  runners: ServerTaskRunners;
  /** CIDER_APPLE_CATALOG_URL, else Apple's (defaultAppleCatalogUrl). */
  appleCatalogUrl: string;
  /** CIDER_BUNDLE_DIR: absolute; bundles are written to server paths inside it only. Unset: that option is off. */
  bundleDir?: string;
}

export function taskConfigOf(deps: ServiceDeps): ServerTaskConfig {
  if (!deps.tasks) throw new AppError('INTERNAL', 'Server tasks are not set up in this process (no runners were given to createServiceDeps).');
  return deps.tasks;
}

/** CIDER_APPLE_CATALOG_URL and CIDER_BUNDLE_DIR, as each app's env schema parses them. */
export const serverTaskEnvShape = {
  /** Apple's restore-image catalog, or a mirror of it (tests serve their own). */
  CIDER_APPLE_CATALOG_URL: z.preprocess((value) => (value === '' ? undefined : value), z.string().url('must be an http(s) URL').max(2048).optional()),
  /** Bundles may be written on the server inside this directory only; unset: that option is off. */
  CIDER_BUNDLE_DIR: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.string().max(1024).refine((value) => isAbsolute(value), 'must be an absolute directory, e.g. /var/lib/cider/bundles').optional(),
  ),
};

/** The deployment's task settings from its parsed env, with @cider/oci's runners. */
export function serverTaskConfigFromEnv(env: { CIDER_APPLE_CATALOG_URL?: string | undefined; CIDER_BUNDLE_DIR?: string | undefined }, runners: ServerTaskRunners): ServerTaskConfig {
  return {
    runners,
    appleCatalogUrl: env.CIDER_APPLE_CATALOG_URL ?? defaultAppleCatalogUrl,
    ...(env.CIDER_BUNDLE_DIR ? { bundleDir: env.CIDER_BUNDLE_DIR } : {}),
  };
}
