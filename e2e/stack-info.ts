// What the Playwright global setup started, as it wrote it to test-results/stack.json: one
// description for every spec.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StackInfo {
  webUrl: string;
  controlUrl: string;
  adminEmail: string;
  adminPassword: string;
  registryHost: string;
  demoReference: string;
  demoDigest: string;
  nodes: string[];
  /** The restore image the stand-in Apple catalog offers. */
  appleMirror?: { version: string; build: string };
  /** CIDER_BUNDLE_DIR of web and control. */
  bundleDir?: string;
}

export const stackInfoPath = join(process.cwd(), 'test-results', 'stack.json');

export function stackInfo(): StackInfo {
  return JSON.parse(readFileSync(stackInfoPath, 'utf8')) as StackInfo;
}
