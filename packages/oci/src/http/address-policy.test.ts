import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { forbiddenAddressCode, forbiddenAddressReason, forbiddenHostReason, guardedLookup } from './address-policy.ts';

describe('addresses a registry may not send us to', () => {
  it('refuses link-local, cloud metadata and unspecified addresses, in every spelling the URL parser accepts', () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://169.254.0.1/',
      'http://0xa9fea9fe/', // 169.254.169.254 in hex
      'http://169.254.43518/', // and in the a.b.c form
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/',
      'http://[febf::1]/',
      'http://[fd00:ec2::254]/',
      'http://100.100.100.200/',
      'http://168.63.129.16/',
      'http://0.0.0.0:5000/',
      'http://[::]/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://METADATA.google.internal./',
      'http://metadata.goog/',
    ]) {
      expect(forbiddenHostReason(new URL(url)), url).toBeDefined();
    }
  });

  it('allows loopback, private networks and public hosts', () => {
    for (const url of ['http://127.0.0.1:5000/', 'http://localhost/', 'http://[::1]/', 'https://10.0.0.5/', 'https://192.168.1.2/', 'https://registry.example.com/', 'https://[fec0::1]/', 'https://169.253.255.255/', 'https://169.255.0.0/']) {
      expect(forbiddenHostReason(new URL(url)), url).toBeUndefined();
    }
    expect(forbiddenAddressReason('not-an-ip')).toBeUndefined();
  });

  it('refuses a name that resolves to a forbidden address, checked on what the connection would use', async () => {
    const answers: Record<string, LookupAddress[]> = {
      'evil.test': [{ address: '10.0.0.1', family: 4 }, { address: 'fe80::1', family: 6 }],
      'fine.test': [{ address: '127.0.0.1', family: 4 }],
    };
    const fake = (hostname: string, options: object, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      const found = answers[hostname]!;
      if ((options as { all?: boolean }).all) callback(null, found);
      else callback(null, found[0]!.address, found[0]!.family);
    };
    const lookup = guardedLookup(fake);
    const ask = (hostname: string, all: boolean) =>
      new Promise<{ error: NodeJS.ErrnoException | null; address: unknown }>((resolve) => lookup(hostname, { all }, (error, address) => resolve({ error, address })));

    const evil = await ask('evil.test', true);
    expect(evil.error?.code).toBe(forbiddenAddressCode);
    expect(evil.error?.message).toBe('refused to connect to evil.test: it resolves to fe80::1 is a link-local, cloud metadata or unspecified address');
    expect((await ask('fine.test', true)).error).toBeNull();
    expect(await ask('fine.test', false)).toEqual({ error: null, address: '127.0.0.1' });
  });

  it('checks what the system resolver answers for a real name (localhost stays allowed)', async () => {
    const lookup = guardedLookup();
    const result = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', { all: true }, (error) => resolve(error)));
    expect(result).toBeNull();
  });
});
