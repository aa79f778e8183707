// Server tasks (issue 12): "Publish from Apple" and a project's bundle written to a server path,
// run by the control plane with progress the dashboard shows live; and the bundle download's
// plan (web streams it). See README, "Server tasks: Publish from Apple and project bundles".
export * from './states.ts';
export * from './config.ts';
export * from './runners.ts';
export * from './kinds.ts';
export * from './tasks.ts';
export * from './bundle-path.ts';
export * from './apple-catalog.ts';
export * from './project-bundle.ts';
export * from './start.ts';
export * from './run.ts';
export * from './bundle-download.ts';
export * from './oci-runners.ts';
