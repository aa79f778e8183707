// Prometheus' own checks for tests: `promtool check metrics` on a scrape (text format and naming
// lint) and `promtool check rules` on alert rules, from Debian's `prometheus` package. The metric
// names a scrape exports and the names deploy/'s dashboard and rules ask for, so a typo on either
// side fails a test.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PromtoolResult {
  code: number | null;
  /** What promtool printed (problems, one a line); empty when it accepts the input. */
  output: string;
}

function promtool(args: string[], input?: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new Error('promtool is not installed: apt-get install prometheus (Debian) provides it') : error),
    );
    child.on('close', (code) => resolve({ code, output: output.trim() }));
    child.stdin.end(input ?? '');
  });
}

/** `promtool check metrics` on exposition text: exit 0 and no output when the text is well formed and its names follow the conventions. */
export function promtoolCheckMetrics(text: string): Promise<PromtoolResult> {
  return promtool(['check', 'metrics'], text);
}

export function promtoolCheckRules(file: string): Promise<PromtoolResult> {
  return promtool(['check', 'rules', file]);
}

/** `promtool test rules`: alert rules' unit tests (series in, alerts expected out). */
export function promtoolTestRules(file: string): Promise<PromtoolResult> {
  return promtool(['test', 'rules', file]);
}

/**
 * Every name a query can use against exposition text: each sample's, and each declared family's
 * (a labelled counter has no sample until its first increment; a histogram gives _bucket, _sum
 * and _count).
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (declared) {
      const [, name, type] = declared;
      names.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
      continue;
    }
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)?.[1];
    if (name) names.add(name);
  }
  return names;
}

/** One sample's value, e.g. sampleValue(text, 'cider_control_nodes', { status: 'online' }); undefined when absent. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) return Number(match[3]);
  }
  return undefined;
}

export const deployDir = join(dirname(fileURLToPath(import.meta.url)), '../../../deploy');

/** The `cider_*` metric names deploy/'s Grafana dashboards and Prometheus rules refer to. */
export async function deployMetricNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const folder of ['grafana', 'prometheus']) {
    for (const file of await readdir(join(deployDir, folder))) {
      const text = await readFile(join(deployDir, folder, file), 'utf8');
      for (const match of text.matchAll(/\bcider_[a-z0-9_]+/g)) names.add(match[0]);
    }
  }
  return names;
}
