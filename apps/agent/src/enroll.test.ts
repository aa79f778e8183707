// Enrolling as a network client: the token from stdin or a file (not only argv, where `ps`
// shows it), TLS unless loopback or --insecure, and a control plane answer that is read with a
// limit and checked before it is trusted. The CLI runs as a real process against a real HTTP
// server on loopback; the crash handlers are tried in a real child process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enroll } from './enroll.ts';
import { readEnrollmentToken } from './token-input.ts';
import { assertSecureServer, isLoopbackHost } from './transport-policy.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('where the enrollment token comes from', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-token-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('reads it from stdin (--token-stdin or --token -), a file, or argv, trimmed', async () => {
    expect(await readEnrollmentToken({ tokenStdin: true }, Readable.from(['cet_abc\n']))).toBe('cet_abc');
    expect(await readEnrollmentToken({ token: '-' }, Readable.from(['cet_', 'def'])).catch((e: Error) => e.message)).toBe('cet_def');
    await writeFile(join(work, 'token'), 'cet_from_file\n', { mode: 0o600 });
    expect(await readEnrollmentToken({ tokenFile: join(work, 'token') })).toBe('cet_from_file');
    expect(await readEnrollmentToken({ token: 'cet_argv' })).toBe('cet_argv');
  });

  it('refuses none, several, empty, multi-line, oversized or unreadable tokens with a clear message', async () => {
    await expect(readEnrollmentToken({})).rejects.toThrow(/--token-file <path>, --token-stdin/);
    await expect(readEnrollmentToken({ token: 'a', tokenFile: 'b' })).rejects.toThrow(/one way only/);
    await expect(readEnrollmentToken({ tokenStdin: true }, Readable.from(['  \n']))).rejects.toThrow(/empty/);
    await expect(readEnrollmentToken({ tokenStdin: true }, Readable.from(['one\ntwo\n']))).rejects.toThrow(/several lines/);
    await expect(readEnrollmentToken({ tokenStdin: true }, Readable.from([Buffer.alloc(10_000, 97)]))).rejects.toThrow(/not a token/);
    await expect(readEnrollmentToken({ tokenFile: join(work, 'missing') })).rejects.toThrow(/Cannot read the enrollment token file .*ENOENT/);
  });
});

describe('TLS unless loopback or --insecure', () => {
  it('knows loopback addresses', () => {
    for (const host of ['localhost', '127.0.0.1', '127.5.6.7', '[::1]', '::1', 'agent.localhost']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['cider.example.com', '10.0.0.1', '192.168.1.2', '[::2]', '128.0.0.1', 'localhost.example.com', '0.0.0.0']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('allows https anywhere and http to loopback; refuses http elsewhere unless insecure, saying what to do', () => {
    expect(assertSecureServer('https://cider.example.com:4000', false).host).toBe('cider.example.com:4000');
    expect(assertSecureServer('http://127.0.0.1:4000', false).host).toBe('127.0.0.1:4000');
    expect(() => assertSecureServer('http://cider.example.com:4000', false)).toThrow(/Use https:\/\/ .*or pass --insecure/);
    expect(assertSecureServer('http://cider.example.com:4000', true).protocol).toBe('http:');
    expect(() => assertSecureServer('ftp://cider.example.com', true)).toThrow(/must be https/);
    expect(() => assertSecureServer('not a url', false)).toThrow(/is not a URL/);
  });
});

describe('enroll against a real HTTP server on loopback', () => {
  let server: Server;
  let url: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const bodies: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(body);
        answer(req, res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const options = () => ({ server: url, token: 'cet_x', name: 'mac-1', labels: {}, cacheDir: '/tmp/c' });

  it('stores insecure: true when chosen, and a key pair whose public half it sent', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nodeId: 'n1', nodeName: 'mac-1', secret: 'cns_s' }));
    const config = await enroll({ ...options(), insecure: true });
    expect(config).toMatchObject({ nodeId: 'n1', secret: 'cns_s', insecure: true });
    expect(JSON.parse(bodies.at(-1)!)).toMatchObject({ token: 'cet_x', publicKey: config.publicKey });
    expect((await enroll(options())).insecure).toBeUndefined();
  });

  it('refuses a plain-http control plane off loopback before sending the token', async () => {
    const before = bodies.length;
    await expect(enroll({ ...options(), server: 'http://cider.example.invalid:4000' })).rejects.toThrow(/pass --insecure/);
    expect(bodies.length).toBe(before);
  });

  it('reads the answer with a limit and checks it: huge, non-JSON, wrong shape and control characters', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(2 * 1024 * 1024, 32));
    };
    await expect(enroll(options())).rejects.toThrow(/over 65536 bytes/);
    answer = (_req, res) => res.writeHead(200).end('<html>');
    await expect(enroll(options())).rejects.toThrow(/not an identity/);
    answer = (_req, res) => res.writeHead(200).end(JSON.stringify({ nodeId: 'x'.repeat(1000), nodeName: 'n', secret: 's' }));
    await expect(enroll(options())).rejects.toThrow(/not an identity/);
    answer = (_req, res) => res.writeHead(403).end(JSON.stringify({ error: 'token\u001b[31m revoked\r\nForged: line' }));
    const error = (await enroll(options()).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/^Enrollment refused \(403\): token \[31m revoked {2}Forged: line$/);
  });
});

describe('cider-agent enroll (a real process)', () => {
  let work: string;
  let server: Server;
  let url: string;
  let lastBody = '';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-enroll-cli-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        lastBody = body;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nodeId: 'n1', nodeName: 'mac-1', secret: 'cns_s' }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(work, { recursive: true, force: true });
  });

  async function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(here, 'main.ts'), ...args], { cwd: here, env: { ...process.env, CIDER_AGENT_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.stdin.end(stdin ?? '');
    const [code] = (await once(proc, 'close')) as [number | null];
    return { code, stdout, stderr };
  }

  it('takes the token on stdin and stores the identity 0600', async () => {
    const config = join(work, 'agent.json');
    const result = await cli(['enroll', '--server', url, '--token-stdin', '--name', 'mac-1', '--cache', join(work, 'cache'), '--config', config], 'cet_secret_on_stdin\n');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(lastBody)).toMatchObject({ token: 'cet_secret_on_stdin' });
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(config, 'utf8'))).toMatchObject({ nodeId: 'n1', secret: 'cns_s' });
  });

  it.runIf(process.getuid?.() === 0)('refuses a cache directory another user owns before enrolling, saying how to fix it', async () => {
    const cache = join(work, 'foreign-cache');
    await mkdir(cache);
    await chown(cache, 1234, 1234);
    const before = lastBody;
    const result = await cli(['enroll', '--server', url, '--token', 'cet_x', '--cache', cache, '--config', join(work, 'foreign.json')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/owned by uid 1234.*chown -R root/);
    expect(lastBody).toBe(before);
  });

  it('says how to give a token when none is given, and refuses http off loopback without --insecure', async () => {
    const none = await cli(['enroll', '--server', url, '--cache', join(work, 'cache'), '--config', join(work, 'none.json')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/--token-file <path>, --token-stdin/);
    const insecure = await cli(['enroll', '--server', 'http://cider.example.invalid:4000', '--token', 'cet_x', '--cache', join(work, 'cache'), '--config', join(work, 'insecure.json')]);
    expect(insecure.code).toBe(1);
    expect(insecure.stderr).toMatch(/Use https:\/\/ .*or pass --insecure/);
  });
});

/** The agent's JSON log line in a child's output (other output may come first). */
function logLine(stdout: string): unknown {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  return line ? JSON.parse(line) : undefined;
}

describe('process-level fault handlers (a real child process)', () => {
  async function child(script: string): Promise<{ code: number | null; stdout: string }> {
    const source = `
      import pino from 'pino';
      import { handleProcessFaults } from ${JSON.stringify(join(here, 'process-faults.ts'))};
      const log = pino({ name: 'cider-agent' });
      handleProcessFaults(log);
      ${script}
    `;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { cwd: here });
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const [code] = (await once(proc, 'close')) as [number | null];
    return { code, stdout };
  }

  it('logs an unhandled rejection with its context and carries on', async () => {
    const { code, stdout } = await child(`Promise.reject(new Error('lost promise')); setTimeout(() => { console.log('still running'); }, 50);`);
    expect(code).toBe(0);
    expect(logLine(stdout)).toMatchObject({ level: 50, fault: 'unhandledRejection', err: { message: 'lost promise' } });
    expect(stdout).toMatch(/still running/);
  });

  it('logs an uncaught exception and exits non-zero for the service manager to restart it', async () => {
    const { code, stdout } = await child(`setTimeout(() => { throw new Error('boom in a timer'); }, 10); setTimeout(() => console.log('not reached'), 500);`);
    expect(code).toBe(70);
    expect(logLine(stdout)).toMatchObject({ level: 60, fault: 'uncaughtException', err: { message: 'boom in a timer' } });
    expect(stdout).not.toMatch(/not reached/);
  });
});
