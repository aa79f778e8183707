import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function composeConfig(env: Record<string, string>): string {
  return execFileSync('docker-compose', ['config'], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('docker-compose.yml (docker-compose config, no Docker engine needed)', () => {
  it('is accepted and runs postgres, redis, registry, web and control with health checks and named volumes', () => {
    const config = composeConfig({ POSTGRES_PASSWORD: 'pw', CIDER_SECRET_KEY: 'key' });
    for (const service of ['postgres', 'redis', 'registry', 'migrate', 'control', 'web']) expect(config).toMatch(new RegExp(`\\n  ${service}:\\n`));
    expect(config.match(/healthcheck:/g)?.length).toBeGreaterThanOrEqual(5);
    expect(config).toMatch(/\nvolumes:\n {2}postgres-data: \{\}\n {2}registry-data: \{\}/);
    expect(config).toContain('condition: service_completed_successfully');
  });

  it('refuses to start without the secrets, saying which', () => {
    expect(() => composeConfig({ POSTGRES_PASSWORD: '', CIDER_SECRET_KEY: '' })).toThrow(/set POSTGRES_PASSWORD in \.env|set CIDER_SECRET_KEY/);
  });
});
