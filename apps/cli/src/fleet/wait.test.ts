// What `--wait` draws, against a real HTTP server answering a scripted rollout (the real REST
// handler's runs are in commands/fleet/fleet.test.ts): bars capped with "+N more" on a terminal,
// a line per change otherwise, and failures named.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetClient } from './client.ts';
import { FleetError } from './errors.ts';
import { waitForRollout } from './wait.ts';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const digest = `sha256:${'a'.repeat(64)}`;

function rollout(state: string, inSync: number, failures: { nodeName: string; error: string }[] = []) {
  return {
    project: { id: id(0), name: 'ci-macs' },
    state,
    serving: 25,
    inSync,
    fetching: 25 - inSync - failures.length,
    waiting: 0,
    failed: failures.length,
    bytesDone: 0,
    bytesTotal: 0,
    pins: [],
    failures: failures.map((f, i) => ({ nodeId: id(100 + i), reference: 'r/macos:15.2', ...f })),
  };
}

const node = (n: number, done: number) => ({
  nodeId: id(n),
  nodeName: `node-${String(n).padStart(2, '0')}`,
  nodeStatus: 'online',
  inSync: false,
  pins: [{ pinId: id(999), reference: 'r/macos:15.2', digest, status: 'syncing', bytesDone: done, bytesTotal: 1000, error: null, jobId: id(500 + n) }],
});

function capture(tty: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: tty, columns: 200 });
  return { stream, text: () => text };
}

describe('waiting for a rollout (a real HTTP server with a scripted rollout)', () => {
  let server: Server;
  let client: FleetClient;
  /** The rollout each poll answers, in order; the last one repeats. */
  let script: unknown[] = [];
  let polls = 0;
  const pages: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      res.setHeader('content-type', 'application/json');
      if (url.pathname.endsWith('/rollout')) {
        res.end(JSON.stringify(script[Math.min(polls++, script.length - 1)]));
        return;
      }
      // 25 nodes still fetching, 20 on the first page and 5 on the second.
      pages.push(url.search);
      const second = url.searchParams.get('cursor') === 'p2';
      const items = second ? [21, 22, 23, 24, 25].map((n) => node(n, 500)) : Array.from({ length: 20 }, (_, i) => node(i + 1, polls * 300));
      res.end(JSON.stringify({ items, nextCursor: second ? null : 'p2' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new FleetClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', tokenSource: 'CIDER_TOKEN' });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('on a terminal: a total bar and at most maxBars node bars, then "+N more"; returns when converged', async () => {
    script = [rollout('in-progress', 0), rollout('in-progress', 0), rollout('converged', 25)];
    polls = 0;
    const out = capture(true);
    const done = await waitForRollout(client, { project: 'ci-macs', timeoutMs: 60_000, intervalMs: 1, json: false, stream: out.stream, maxBars: 20 });
    expect(done.state).toBe('converged');
    expect(pages[0]).toBe('?notInSync=true&limit=200');
    expect(pages[1]).toBe('?notInSync=true&limit=200&cursor=p2');
    const text = out.text();
    expect(text).toMatch(/total +\|.*\| 0\/25 nodes 25 fetching, 0 waiting, 0 failed/);
    expect(text).toMatch(/node-20 +\|.*\| 60% of 1000 B syncing/);
    expect(text).not.toContain('node-21');
    expect(text).toContain('+5 more nodes not in sync');
  });

  it('in a log: a line for the rollout and for each node when its state or tenth of progress changes', async () => {
    script = [rollout('in-progress', 0), rollout('in-progress', 0), rollout('converged', 25)];
    polls = 0;
    const out = capture(false);
    await waitForRollout(client, { project: 'ci-macs', timeoutMs: 60_000, intervalMs: 1, json: false, stream: out.stream });
    const lines = out.text().split('\n');
    expect(lines[0]).toBe('ci-macs: in-progress, 0/25 nodes in sync, 25 fetching, 0 waiting, 0 failed (0 B / 0 B)');
    expect(lines.filter((l) => l.startsWith('  node-01: '))).toEqual(['  node-01: syncing 30% of 1000 B', '  node-01: syncing 60% of 1000 B']);
    // node-25 stayed at 50 %: one line only.
    expect(lines.filter((l) => l.startsWith('  node-25: '))).toEqual(['  node-25: syncing 50% of 1000 B']);
    expect(lines.filter((l) => l.startsWith('ci-macs: in-progress'))).toHaveLength(1);
    expect(lines).toContain('ci-macs: converged, 25/25 nodes in sync, 0 fetching, 0 waiting, 0 failed (0 B / 0 B)');
  });

  it('stops at the first failing poll, naming each failed node and its error', async () => {
    script = [rollout('in-progress', 0), rollout('failing', 23, [{ nodeName: 'node-07', error: 'disk full' }, { nodeName: 'node-09', error: 'registry said 401' }])];
    polls = 0;
    const error = await waitForRollout(client, { project: 'ci-macs', timeoutMs: 60_000, intervalMs: 1, json: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FleetError);
    expect(error).toMatchObject({ code: 'ROLLOUT_FAILED', exitCode: 4 });
    expect((error as FleetError).message).toBe(
      'Rollout of ci-macs failed on 2 node(s):\n  node-07: r/macos:15.2: disk full\n  node-09: r/macos:15.2: registry said 401\nRetry with cider fleet jobs retry <id> (cider fleet jobs ls --state failed).',
    );
  });
});
