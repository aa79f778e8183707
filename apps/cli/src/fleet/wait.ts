// Waiting for a project's rollout: poll its state every couple of seconds until every serving
// node holds every pinned digest (exit 0), some node failed (exit 4, failures named) or the
// timeout passed (exit 5). On a terminal a bar per node still fetching (up to `maxBars`, then
// "+N more") and a total bar; otherwise a line per change, so a CI log shows what moved.
import type { ResponseOf } from '@cider/api';
import cliProgress from 'cli-progress';
import type { FleetClient } from './client.ts';
import { FleetError } from './errors.ts';
import { percent, size } from './format.ts';

type Rollout = ResponseOf<'projects.rollout'>;
type RolloutNode = ResponseOf<'projects.rolloutNodes'>['items'][number];

export interface WaitOptions {
  project: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Quiet with --json: only the final rollout is printed, on stdout. */
  json: boolean;
  stream?: NodeJS.WriteStream;
  maxBars?: number;
}

/** Nodes read per poll for their bars: enough to show the slowest, bounded for huge fleets. */
const maxNodesRead = 1000;

/** Where one node stands, summed over the project's pins it still misses. */
export interface NodeProgress {
  name: string;
  status: string;
  done: number;
  total: number | null;
}

export function nodeProgress(node: RolloutNode): NodeProgress {
  const missing = node.pins.filter((p) => p.status !== 'in-sync');
  const order = ['failed', 'syncing', 'queued', 'waiting-offline'] as const;
  const status = order.find((s) => missing.some((p) => p.status === s)) ?? 'in-sync';
  const known = missing.every((p) => p.bytesTotal !== null);
  return {
    name: node.nodeName,
    status: status === 'waiting-offline' ? 'waiting (offline)' : status,
    done: missing.reduce((sum, p) => sum + p.bytesDone, 0),
    total: known ? missing.reduce((sum, p) => sum + (p.bytesTotal ?? 0), 0) : null,
  };
}

async function notInSyncNodes(client: FleetClient, project: string): Promise<NodeProgress[]> {
  const nodes: NodeProgress[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.call('projects.rolloutNodes', { params: { project }, query: { notInSync: 'true', limit: 200, ...(cursor ? { cursor } : {}) } });
    nodes.push(...page.items.map(nodeProgress));
    cursor = page.nextCursor ?? undefined;
  } while (cursor && nodes.length < maxNodesRead);
  return nodes;
}

export const summary = (r: Rollout): string =>
  `${r.project.name}: ${r.state}, ${r.inSync}/${r.serving} nodes in sync, ${r.fetching} fetching, ${r.waiting} waiting, ${r.failed} failed (${size(r.bytesDone)} / ${size(r.bytesTotal)})`;

export function failureLines(r: Rollout): string[] {
  return r.failures.map((f) => `  ${f.nodeName}: ${f.reference}: ${f.error ?? 'failed (no message)'}`);
}

interface Display {
  show(rollout: Rollout, nodes: NodeProgress[]): void;
  stop(): void;
}

function lineDisplay(stream: NodeJS.WritableStream): Display {
  let lastSummary = '';
  const lastNode = new Map<string, string>();
  return {
    show(rollout, nodes) {
      const line = summary(rollout);
      if (line !== lastSummary) stream.write(`${line}\n`);
      lastSummary = line;
      for (const node of nodes) {
        // A line when a node's state changes or its progress passes another tenth.
        const step = node.total ? Math.floor((node.done / node.total) * 10) : -1;
        const key = `${node.status}:${step}`;
        if (lastNode.get(node.name) === key) continue;
        lastNode.set(node.name, key);
        stream.write(`  ${node.name}: ${node.status}${node.status === 'syncing' ? ` ${percent(node.done, node.total)}` : ''}\n`);
      }
    },
    stop() {},
  };
}

function barDisplay(stream: NodeJS.WriteStream, maxBars: number): Display {
  const multi = new cliProgress.MultiBar(
    { stream, format: ' {name} |{bar}| {pct} {detail}', barCompleteChar: '\u2588', barIncompleteChar: '\u2591', hideCursor: true, clearOnComplete: false, fps: 4, autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  const width = (names: string[]) => Math.min(30, Math.max(5, ...names.map((n) => n.length)));
  const total = multi.create(1, 0, { name: 'total', pct: '', detail: '' });
  const bars = new Map<string, cliProgress.SingleBar>();
  const moreBar = () => multi.create(1, 0, { text: '' }, { format: ' {text}' });
  let more = moreBar();
  return {
    show(rollout, nodes) {
      const shown = nodes.slice(0, maxBars);
      const pad = width(['total', ...shown.map((n) => n.name)]);
      total.setTotal(Math.max(rollout.serving, 1));
      total.update(rollout.inSync, { name: 'total'.padEnd(pad), pct: `${rollout.inSync}/${rollout.serving} nodes`, detail: `${rollout.fetching} fetching, ${rollout.waiting} waiting, ${rollout.failed} failed` });
      for (const [name, bar] of bars) {
        if (!shown.some((n) => n.name === name)) {
          multi.remove(bar);
          bars.delete(name);
        }
      }
      // New bars go above the "+N more" line: it is taken away and put back below them.
      const added = shown.filter((n) => !bars.has(n.name));
      if (added.length) multi.remove(more);
      for (const node of shown) {
        const payload = { name: node.name.slice(0, pad).padEnd(pad), pct: node.status === 'syncing' ? percent(node.done, node.total) : '', detail: node.status };
        const bar = bars.get(node.name) ?? multi.create(1, 0, payload);
        bars.set(node.name, bar);
        bar.setTotal(Math.max(node.total ?? 1, 1));
        bar.update(node.total ? node.done : 0, payload);
      }
      if (added.length) more = moreBar();
      more.update(0, { text: nodes.length > shown.length ? `+${nodes.length - shown.length} more nodes not in sync` : '' });
    },
    stop() {
      multi.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until converged; throws ROLLOUT_FAILED or WAIT_TIMEOUT. Returns the converged rollout. */
export async function waitForRollout(client: FleetClient, options: WaitOptions): Promise<Rollout> {
  const stream = options.stream ?? process.stderr;
  const display: Display | undefined = options.json ? undefined : stream.isTTY ? barDisplay(stream, options.maxBars ?? 20) : lineDisplay(stream);
  const deadline = Date.now() + options.timeoutMs;
  try {
    for (;;) {
      const rollout = await client.call('projects.rollout', { params: { project: options.project } });
      if (rollout.state === 'converged' || rollout.state === 'no-pins') {
        display?.show(rollout, []);
        return rollout;
      }
      if (rollout.state === 'failing') {
        display?.show(rollout, []);
        throw new FleetError('ROLLOUT_FAILED', [`Rollout of ${rollout.project.name} failed on ${rollout.failed} node(s):`, ...failureLines(rollout), `Retry with cider fleet jobs retry <id> (cider fleet jobs ls --state failed).`].join('\n'), undefined, rollout);
      }
      display?.show(rollout, await notInSyncNodes(client, options.project));
      if (Date.now() >= deadline) {
        throw new FleetError('WAIT_TIMEOUT', `Rollout of ${rollout.project.name} did not converge within ${Math.round(options.timeoutMs / 1000)} s: ${summary(rollout)}. It goes on in the background; check with cider fleet rollout status ${options.project}.`, undefined, rollout);
      }
      await sleep(Math.min(options.intervalMs ?? 2000, Math.max(0, deadline - Date.now())));
    }
  } finally {
    display?.stop();
  }
}
