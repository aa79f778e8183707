// The settings integration tests start an in-process control plane with: one free loopback port,
// timers long enough that only the test drives reconcile and the registry watch.
import type { ServiceDepsConfig } from '@cider/api';
import type { Logger } from 'pino';
import type { ControlConfig } from '../src/server.ts';

export function testControlConfig(services: ServiceDepsConfig, log: Logger): ControlConfig {
  return {
    ...services,
    host: '127.0.0.1',
    port: 0,
    maxConcurrentPulls: 10,
    maxPullsPerNode: 2,
    reconcileIntervalMs: 60_000,
    registryWatchIntervalMs: 60 * 60_000,
    heartbeatIntervalMs: 5_000,
    syncStallTimeoutMs: 30_000,
    log,
  };
}
