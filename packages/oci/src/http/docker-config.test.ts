// Docker's credential config against real files and real helper processes: each fake helper
// is a small executable script on a temporary PATH speaking docker-credential-helpers' protocol.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CredentialHelperError, ProcessCredentialHelperRunner } from './credential-helper.ts';
import { defaultDockerConfigFile, DockerConfigCredentials, DockerConfigError, normalizeRegistry } from './docker-config.ts';

/** A helper keeping its secrets in <dir>/<name>-store.json and logging each call to <name>-calls.log. */
function helperScript(name: string): string {
  return `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const db = path.join(__dirname, '${name}-store.json');
const action = process.argv[2];
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  fs.appendFileSync(path.join(__dirname, '${name}-calls.log'), JSON.stringify({ action, input }) + '\\n');
  const store = fs.existsSync(db) ? JSON.parse(fs.readFileSync(db, 'utf8')) : {};
  const notFound = () => { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); };
  if (action === 'get') {
    const c = store[input];
    if (!c) notFound();
    process.stdout.write(JSON.stringify({ ServerURL: input, Username: c.Username, Secret: c.Secret }));
  } else if (action === 'store') {
    const c = JSON.parse(input);
    store[c.ServerURL] = c;
    fs.writeFileSync(db, JSON.stringify(store));
  } else if (action === 'erase') {
    if (!store[input]) notFound();
    delete store[input];
    fs.writeFileSync(db, JSON.stringify(store));
  } else {
    process.stderr.write('unknown action ' + action);
    process.exit(2);
  }
});
`;
}

describe('DockerConfigCredentials (docker config.json and credential helpers)', () => {
  let work: string;
  let bin: string;
  let configDir: string;
  let configFile: string;
  let runner: ProcessCredentialHelperRunner;

  const helperStore = async (name: string, entries: Record<string, { Username: string; Secret: string }>) => {
    const withUrls = Object.fromEntries(Object.entries(entries).map(([url, c]) => [url, { ServerURL: url, ...c }]));
    await writeFile(join(bin, `${name}-store.json`), JSON.stringify(withUrls));
  };
  const helperCalls = async (name: string): Promise<{ action: string; input: string }[]> => {
    const text = await readFile(join(bin, `${name}-calls.log`), 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  };
  const writeConfig = (config: unknown) => writeFile(configFile, JSON.stringify(config), { mode: 0o600 });
  const credentials = (platform: NodeJS.Platform = 'linux') => new DockerConfigCredentials({ env: { DOCKER_CONFIG: configDir }, runner, platform });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'cider-docker-config-'));
    bin = join(work, 'bin');
    await mkdir(bin);
    for (const name of ['fake', 'osxkeychain']) {
      await writeFile(join(bin, `docker-credential-${name}`), helperScript(name));
      await chmod(join(bin, `docker-credential-${name}`), 0o755);
    }
    await writeFile(join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "the keychain is locked" >&2\nexit 3\n');
    await chmod(join(bin, 'docker-credential-broken'), 0o755);
    runner = new ProcessCredentialHelperRunner({ path: `${bin}${delimiter}${process.env.PATH ?? ''}` });
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(async () => {
    configDir = await mkdtemp(join(work, 'docker-'));
    configFile = join(configDir, 'config.json');
    for (const name of ['fake', 'osxkeychain']) {
      await rm(join(bin, `${name}-store.json`), { force: true });
      await rm(join(bin, `${name}-calls.log`), { force: true });
    }
  });

  it('finds config.json through DOCKER_CONFIG, else in ~/.docker', () => {
    expect(defaultDockerConfigFile({ DOCKER_CONFIG: '/etc/ci/docker' })).toBe('/etc/ci/docker/config.json');
    expect(defaultDockerConfigFile({})).toBe(join(homedir(), '.docker', 'config.json'));
    expect(credentials().configFile).toBe(configFile);
  });

  it('reads auths under every key spelling docker writes, Docker Hub included', async () => {
    const auth = (user: string) => ({ auth: Buffer.from(`${user}:pw-${user}`).toString('base64') });
    await writeConfig({
      auths: {
        'plain.example.com:5000': auth('plain'),
        'https://scheme.example.com': auth('scheme'),
        'http://legacy.example.com/v1/': auth('legacy'),
        'https://index.docker.io/v1/': auth('hub'),
        'split.example.com': { username: 'split', password: 'pw:with:colons' },
      },
    });
    const store = credentials();
    expect(await store.get('plain.example.com:5000')).toEqual({ kind: 'basic', username: 'plain', password: 'pw-plain' });
    expect(await store.get('scheme.example.com')).toEqual({ kind: 'basic', username: 'scheme', password: 'pw-scheme' });
    expect(await store.get('legacy.example.com')).toEqual({ kind: 'basic', username: 'legacy', password: 'pw-legacy' });
    expect(await store.get('docker.io')).toEqual({ kind: 'basic', username: 'hub', password: 'pw-hub' });
    expect(await store.get('split.example.com')).toEqual({ kind: 'basic', username: 'split', password: 'pw:with:colons' });
    expect(await store.get('other.example.com')).toBeUndefined();
    expect(await store.get('plain.example.com')).toBeUndefined();
    expect(normalizeRegistry('https://Index.Docker.io/v1/')).toBe('docker.io');
  });

  it('reads identitytoken and registrytoken entries', async () => {
    await writeConfig({
      auths: {
        'oauth.example.com': { auth: Buffer.from('alice:').toString('base64'), identitytoken: 'refresh-123' },
        'bearer.example.com': { registrytoken: 'bearer-456' },
      },
    });
    const store = credentials();
    expect(await store.get('oauth.example.com')).toEqual({ kind: 'identity-token', token: 'refresh-123', username: 'alice' });
    expect(await store.get('bearer.example.com')).toEqual({ kind: 'registry-token', token: 'bearer-456' });
  });

  it('asks the credHelpers helper for its registry, once, and reads <token> as an identity token', async () => {
    await writeConfig({ credHelpers: { 'helped.example.com': 'fake', 'https://token.example.com': 'fake' }, auths: { 'inline.example.com': { auth: Buffer.from('i:p').toString('base64') } } });
    await helperStore('fake', {
      'helped.example.com': { Username: 'carol', Secret: 's3cret' },
      'token.example.com': { Username: '<token>', Secret: 'refresh-789' },
    });
    const store = credentials();
    expect(await store.get('helped.example.com')).toEqual({ kind: 'basic', username: 'carol', password: 's3cret' });
    expect(await store.get('helped.example.com')).toEqual({ kind: 'basic', username: 'carol', password: 's3cret' });
    expect(await store.get('token.example.com')).toEqual({ kind: 'identity-token', token: 'refresh-789' });
    // Registries the helper is not configured for never reach it.
    expect(await store.get('inline.example.com')).toEqual({ kind: 'basic', username: 'i', password: 'p' });
    expect(await helperCalls('fake')).toEqual([
      { action: 'get', input: 'helped.example.com' },
      { action: 'get', input: 'token.example.com' },
    ]);
  });

  it('asks the credsStore helper for every registry, with Docker Hub under its legacy URL', async () => {
    await writeConfig({ credsStore: 'fake' });
    await helperStore('fake', { 'https://index.docker.io/v1/': { Username: 'dave', Secret: 'hub-pw' } });
    const store = credentials();
    expect(await store.get('docker.io')).toEqual({ kind: 'basic', username: 'dave', password: 'hub-pw' });
    expect(await store.get('unknown.example.com')).toBeUndefined();
    expect((await helperCalls('fake')).map((c) => c.input)).toEqual(['https://index.docker.io/v1/', 'unknown.example.com']);
  });

  it('uses osxkeychain by default on macOS only, when it is installed', async () => {
    await helperStore('osxkeychain', { 'mac.example.com': { Username: 'erin', Secret: 'kc' } });
    expect(await credentials('darwin').get('mac.example.com')).toEqual({ kind: 'basic', username: 'erin', password: 'kc' });
    expect(await credentials('linux').get('mac.example.com')).toBeUndefined();
  });

  it('names the helper and the config file when a configured helper is missing or fails', async () => {
    await writeConfig({ credHelpers: { 'gone.example.com': 'missing', 'locked.example.com': 'broken' } });
    const store = credentials();
    const missing = await store.get('gone.example.com').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CredentialHelperError);
    expect((missing as Error).message).toContain('docker-credential-missing is not installed');
    expect((missing as Error).message).toContain(configFile);
    const broken = await store.get('locked.example.com').catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(CredentialHelperError);
    expect((broken as Error).message).toBe('The credential helper docker-credential-broken failed to get credentials for locked.example.com: the keychain is locked');
  });

  it('refuses a config.json that is not JSON, saying which file', async () => {
    await writeFile(configFile, '{"auths": ');
    const error = await credentials().get('x.example.com').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerConfigError);
    expect((error as Error).message).toMatch(new RegExp(`^${configFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`));
  });

  it('logs in and out through config.json, written atomically with mode 0600 and other settings kept', async () => {
    await writeConfig({ auths: { 'https://login.example.com': { auth: 'b2xkOm9sZA==' }, 'keep.example.com': { auth: 'azpr' } }, experimental: 'enabled' });
    await chmod(configFile, 0o644);
    const store = credentials();
    expect(await store.get('login.example.com')).toEqual({ kind: 'basic', username: 'old', password: 'old' });
    expect(await store.store('login.example.com', 'frank', 'new:pw')).toEqual({ kind: 'file', file: configFile });
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    const written = JSON.parse(await readFile(configFile, 'utf8'));
    expect(written).toEqual({
      auths: { 'keep.example.com': { auth: 'azpr' }, 'login.example.com': { auth: Buffer.from('frank:new:pw').toString('base64') } },
      experimental: 'enabled',
    });
    expect(await store.get('login.example.com')).toEqual({ kind: 'basic', username: 'frank', password: 'new:pw' });
    expect(await credentials().get('login.example.com')).toEqual({ kind: 'basic', username: 'frank', password: 'new:pw' });

    expect(await store.erase('login.example.com')).toBe(true);
    expect(await store.get('login.example.com')).toBeUndefined();
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toEqual({ auths: { 'keep.example.com': { auth: 'azpr' } }, experimental: 'enabled' });
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect(await store.erase('login.example.com')).toBe(false);
  });

  it('creates the config directory and file on first login', async () => {
    const fresh = join(configDir, 'new-dir');
    const store = new DockerConfigCredentials({ env: { DOCKER_CONFIG: fresh }, runner, platform: 'linux' });
    await store.store('docker.io', 'gina', 'pw');
    expect((await stat(join(fresh, 'config.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(fresh, 'config.json'), 'utf8'))).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('gina:pw').toString('base64') } } });
  });

  it('logs in and out through the configured helper, leaving only a placeholder in config.json', async () => {
    await writeConfig({ credsStore: 'fake', auths: { 'helped.example.com': { auth: Buffer.from('stale:stale').toString('base64') } } });
    const store = credentials();
    expect(await store.store('helped.example.com', 'hank', 'pw')).toEqual({ kind: 'helper', helper: 'fake' });
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toEqual({ credsStore: 'fake', auths: { 'helped.example.com': {} } });
    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    expect(await store.get('helped.example.com')).toEqual({ kind: 'basic', username: 'hank', password: 'pw' });
    expect(await store.erase('helped.example.com')).toBe(true);
    expect(await store.get('helped.example.com')).toBeUndefined();
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toEqual({ credsStore: 'fake', auths: {} });
    expect((await helperCalls('fake')).map((c) => c.action)).toEqual(['store', 'get', 'erase', 'get']);
    expect(JSON.parse((await helperCalls('fake'))[0]!.input)).toEqual({ ServerURL: 'helped.example.com', Username: 'hank', Secret: 'pw' });
  });
});
