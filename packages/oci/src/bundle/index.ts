// Offline bundles (issue 12): the implementation of ./types.ts's contract.
export { planBundle } from './plan.ts';
export { writeBundle } from './write.ts';
export { exportBundle } from './export.ts';
export { importBundle } from './import.ts';
export { verifyBundle, type VerifyBundleOptions } from './verify.ts';
export { parseTarget, type ImportTarget } from './placement.ts';
