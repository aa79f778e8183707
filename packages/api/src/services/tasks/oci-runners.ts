// The real ServerTaskRunners: @cider/oci's Apple catalog, URL source, pushIpsw and bundle writer.
// PENDING (issue 12): the catalog/URL functions (branch issue12-url) and the bundle functions
// (branch issue12-bundle) are not on main yet; until they are, each runner says so plainly.
import { AppError } from '../../errors.ts';
import type { ServerTaskRunners } from './runners.ts';

function notYet(what: string): () => Promise<never> {
  return () => Promise.reject(new AppError('INTERNAL', `${what} is not in this build of Cider Fleet yet.`));
}

export function ociTaskRunners(): ServerTaskRunners {
  return {
    fetchAppleCatalog: notYet("Reading Apple's restore-image catalog"),
    publishFromApple: notYet('Publishing an IPSW from a URL'),
    planBundle: notYet('Planning a bundle'),
    writeBundle: notYet('Writing a bundle'),
    exportBundle: notYet('Writing a bundle'),
  };
}
