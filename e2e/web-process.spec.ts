// The dashboard's own process (apps/web/server.mjs) faced with bugs: a promise nobody awaited is
// logged and the dashboard keeps serving; an uncaught exception is logged and the process exits
// non-zero so its supervisor starts a fresh one. A preload module plays the bug.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';

const serverMain = join(process.cwd(), 'apps/web/server.mjs');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts server.mjs with `bug` (JavaScript) to run when the process gets SIGUSR2; collects its output. */
async function startWithBug(bug: string) {
  const port = await freePort();
  const preload = `data:text/javascript,${encodeURIComponent(`process.on('SIGUSR2', () => { ${bug} });`)}`;
  const child = spawn(process.execPath, ['--import', preload, serverMain, '--port', String(port), '--hostname', '127.0.0.1'], {
    cwd: join(process.cwd(), 'apps/web'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await expect.poll(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.status, { timeout: 30_000 }).toBe(200);
  return { child, url, output: () => output, trigger: () => child.kill('SIGUSR2') };
}

test('an unhandled rejection is logged and the dashboard keeps serving', async () => {
  const web = await startWithBug("Promise.reject(new Error('nobody awaited me'));");
  try {
    web.trigger();
    await expect.poll(() => web.output(), { timeout: 10_000 }).toContain('nobody awaited me');
    expect(web.output()).toMatch(/unhandled ?rejection/i);
    expect(web.child.exitCode).toBeNull();
    expect((await fetch(`${web.url}/healthz`)).status).toBe(200);
  } finally {
    web.child.kill('SIGTERM');
    await once(web.child, 'exit');
  }
});

test('an uncaught exception is logged and the process exits 1 for its supervisor', async () => {
  const web = await startWithBug("throw new Error('a bug nobody caught');");
  web.trigger();
  const [code] = (await Promise.race([once(web.child, 'exit'), new Promise((_, reject) => setTimeout(() => reject(new Error(`still running:\n${web.output()}`)), 15_000))])) as [number];
  expect(code).toBe(1);
  expect(web.output()).toContain('uncaught exception');
  expect(web.output()).toContain('a bug nobody caught');
});
