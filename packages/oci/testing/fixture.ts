// The usual surroundings of a registry test: a scratch folder, a client, and a fault proxy in
// front of the run's registry, reset before each test and closed after the file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from '../src/registry/client.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';

export interface RegistryFixture {
  readonly work: string;
  readonly client: RegistryClient;
  readonly proxy: FaultProxy;
}

export function useRegistryFixture(name: string, clientOptions: RegistryClientOptions = {}): RegistryFixture {
  let work: string | undefined;
  let client: RegistryClient | undefined;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), `cider-${name}-`));
    client = new RegistryClient(clientOptions);
    proxy = await startFaultProxy(inject('registryUrl'));
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy?.setRule(undefined);
    if (proxy) proxy.requests.length = 0;
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRegistryFixture: only available inside tests and hooks');
    return value;
  };
  return {
    get work() {
      return ready(work);
    },
    get client() {
      return ready(client);
    },
    get proxy() {
      return ready(proxy);
    },
  };
}
