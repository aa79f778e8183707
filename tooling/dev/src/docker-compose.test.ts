import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function composeConfig(env: Record<string, string>): string {
  return execFileSync('docker-compose', ['config'], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** One service's block of `docker-compose config` output (two-space indented YAML). */
function serviceBlock(config: string, service: string): string {
  const start = config.indexOf(`\n  ${service}:\n`);
  if (start < 0) throw new Error(`no service ${service} in the config`);
  const rest = config.slice(start + service.length + 5);
  const end = rest.search(/\n {2}\S/);
  return end < 0 ? rest : rest.slice(0, end);
}

/**
 * The published ports of a service block that are reachable from beyond this machine. Compose
 * prints `127.0.0.1:5000:5000/tcp` for a port bound to an address, and a `published:`/`target:`
 * mapping (with `host_ip:` when bound) otherwise.
 */
function portsBeyondLoopback(block: string): string[] {
  const ports = /\n {4}ports:\n((?: {4}- .*\n?(?: {6}.*\n?)*)*)/.exec(`\n${block}`)?.[1] ?? '';
  const items = ports.split(/\n? {4}- /).map((item) => item.trim()).filter(Boolean);
  const loopback = /^(127\.\d+\.\d+\.\d+|\[?::1\]?|localhost)$/;
  return items.filter((item) => {
    const hostIp = /host_ip:\s*(\S+)/.exec(item)?.[1] ?? (/^([^:]+|\[[^\]]+\]):\d+:\d+/.exec(item)?.[1]);
    return !hostIp || !loopback.test(hostIp);
  });
}

describe('docker-compose.yml (docker-compose config, no Docker engine needed)', () => {
  it('is accepted and runs postgres, redis, registry, web and control with health checks and named volumes', () => {
    const config = composeConfig({ POSTGRES_PASSWORD: 'pw', CIDER_SECRET_KEY: 'key' });
    for (const service of ['postgres', 'redis', 'registry', 'migrate', 'control', 'web']) expect(config).toMatch(new RegExp(`\\n  ${service}:\\n`));
    expect(config.match(/healthcheck:/g)?.length).toBeGreaterThanOrEqual(5);
    expect(config).toMatch(/\nvolumes:\n {2}postgres-data: \{\}\n {2}registry-data: \{\}/);
    expect(config).toContain('condition: service_completed_successfully');
    // The web health check asks /healthz, which says ok and nothing more.
    expect(serviceBlock(config, 'web')).toContain('http://127.0.0.1:3000/healthz');
  });

  it('refuses to start without the secrets, saying which', () => {
    expect(() => composeConfig({ POSTGRES_PASSWORD: '', CIDER_SECRET_KEY: '' })).toThrow(/set POSTGRES_PASSWORD in \.env|set CIDER_SECRET_KEY/);
  });

  it('publishes the unauthenticated registry on loopback only, and the control plane to the network', () => {
    const config = composeConfig({ POSTGRES_PASSWORD: 'pw', CIDER_SECRET_KEY: 'key' });
    expect(serviceBlock(config, 'registry')).toMatch(/ports:/);
    expect(portsBeyondLoopback(serviceBlock(config, 'registry'))).toEqual([]);
    // Agents on the Macs need the gateway: it stays published.
    expect(portsBeyondLoopback(serviceBlock(config, 'control'))).toHaveLength(1);
    // Nothing else that has no authentication of its own is published at all.
    for (const service of ['postgres', 'redis']) expect(serviceBlock(config, service)).not.toMatch(/ports:/);
  });

  it('tells a port open to the network from a loopback one, in both of compose’s spellings', () => {
    expect(portsBeyondLoopback('    ports:\n    - 127.0.0.1:5000:5000/tcp\n')).toEqual([]);
    expect(portsBeyondLoopback('    ports:\n    - host_ip: 127.0.0.1\n      published: 5000\n      target: 5000\n')).toEqual([]);
    expect(portsBeyondLoopback('    ports:\n    - published: 5000\n      target: 5000\n')).toHaveLength(1);
    expect(portsBeyondLoopback('    ports:\n    - 0.0.0.0:5000:5000/tcp\n')).toHaveLength(1);
    expect(portsBeyondLoopback('    ports:\n    - 5000:5000/tcp\n')).toHaveLength(1);
  });

  it('.env.example lists every variable the compose file uses', () => {
    const compose = readFileSync(`${root}docker-compose.yml`, 'utf8');
    const used = new Set([...compose.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    const example = readFileSync(`${root}.env.example`, 'utf8');
    const listed = new Set([...example.matchAll(/^([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThanOrEqual(6);
    expect([...used].filter((name) => !listed.has(name))).toEqual([]);
    // Every variable comes in a paragraph with a comment saying what it is.
    for (const paragraph of example.split(/\n\s*\n/)) {
      if (/^[A-Za-z_][A-Za-z0-9_]*=/m.test(paragraph)) expect(paragraph, paragraph).toMatch(/^# \S/m);
    }
  });
});
