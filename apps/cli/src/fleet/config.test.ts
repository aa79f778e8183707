// Where `cider fleet` takes its server and token from (real files in a temporary config home):
// flag over environment over the login file, the file's token only for its own server, 0600.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetClientFor, loginFile, readLogin, removeLogin, resolveServer, writeLogin } from './config.ts';

describe('fleet server and token resolution (real files)', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'cider-fleet-config-'));
    env = { XDG_CONFIG_HOME: home };
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('says how to give a server and a token when there is none', async () => {
    await expect(resolveServer({}, env)).rejects.toMatchObject({ code: 'NO_SERVER', exitCode: 2 });
    await expect(fleetClientFor({ server: 'https://cider.example.com' }, env)).rejects.toMatchObject({ code: 'NO_TOKEN', exitCode: 3, message: expect.stringMatching(/No API token for https:\/\/cider\.example\.com\/: run cider fleet login, or set CIDER_TOKEN/) });
  });

  it('stores the login 0600 (directory 0700) and reads it back; the file\'s token goes to its own server only', async () => {
    const file = loginFile(env);
    expect(file).toBe(join(home, 'cider', 'fleet.json'));
    await writeLogin({ server: 'https://cider.example.com/', token: 'cat_file' }, file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'cider'))).mode & 0o777).toBe(0o700);
    expect(await readLogin(file)).toEqual({ server: 'https://cider.example.com/', token: 'cat_file' });

    expect(await resolveServer({}, env)).toBe('https://cider.example.com/');
    const fromFile = await fleetClientFor({}, env);
    expect(fromFile.base.href).toBe('https://cider.example.com/');
    // The same server written differently still matches; another server does not get the token.
    expect((await fleetClientFor({ server: 'https://CIDER.example.com' }, env)).origin).toBe('https://cider.example.com');
    await expect(fleetClientFor({ server: 'https://other.example.com' }, env)).rejects.toMatchObject({ code: 'NO_TOKEN', message: expect.stringContaining('(the login in') });
    // The environment wins over the file, the flag over the environment.
    expect(await resolveServer({}, { ...env, CIDER_SERVER: 'http://10.0.0.1:3000' })).toBe('http://10.0.0.1:3000/');
    expect(await resolveServer({ server: 'http://flag.example' }, { ...env, CIDER_SERVER: 'http://10.0.0.1:3000' })).toBe('http://flag.example/');
    expect((await fleetClientFor({ server: 'https://other.example.com' }, { ...env, CIDER_TOKEN: 'cat_env' })).origin).toBe('https://other.example.com');

    expect(await removeLogin(file)).toBe(true);
    expect(await removeLogin(file)).toBe(false);
    expect(await readLogin(file)).toBeUndefined();
  });

  it('explains a login file that holds no login', async () => {
    const file = loginFile(env);
    await writeLogin({ server: 'https://x.example/', token: 't' }, file);
    await writeFile(file, '{"server": 1}');
    await expect(readLogin(file)).rejects.toThrow(/does not hold a login: run cider fleet login again/);
    expect(await readFile(file, 'utf8')).toBe('{"server": 1}');
    await removeLogin(file);
  });
});
