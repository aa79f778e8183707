// The dashboard benchmark's seeder at a small scale (real PostgreSQL, Redis and registry): it
// makes the counts it promises, and the state its simulated agents will report agrees with the
// database, so a schema change that breaks the bulk SQL fails here rather than in a bench run.
import { randomBytes } from 'node:crypto';
import { createServiceDeps } from '@cider/api';
import { useTestDatabase } from '@cider/db/testing';
import { uniqueRepository, useRedisPrefix } from '@cider/services/testing';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { seedFleet, type FleetSeed } from './fleet-seed.ts';

const database = useTestDatabase();
const redis = useRedisPrefix();

describe('seedFleet (real PostgreSQL, Redis, registry)', () => {
  let services: ReturnType<typeof createServiceDeps>;
  let seeded: FleetSeed;

  beforeAll(async () => {
    services = createServiceDeps({ databaseUrl: database.url, redisUrl: redis.url, redisPrefix: redis.prefix, secretKey: randomBytes(32).toString('base64') });
    seeded = await seedFleet({ deps: services.deps, databaseUrl: database.url, registryHosts: [inject('registryHost')], repository: uniqueRepository('fleet'), nodes: 20 });
  });
  afterAll(async () => {
    await services?.close();
  });

  it('makes 20 nodes, 200 sync jobs and 400 audit events, with projects, pins and a registry', () => {
    expect(seeded.counts).toMatchObject({ nodes: 20, jobs: 200, auditEvents: 400, projects: 4, pins: 4, registries: 1 });
    expect(seeded.nodes).toHaveLength(20);
    expect(seeded.counts.nodeImages).toBe(seeded.nodes.reduce((sum, n) => sum + n.images.length, 0));
  });

  it('leaves the rollout in flight: pulling jobs, one per agent that reports it', async () => {
    const pulling = await services.deps.db.syncJob.findMany({ where: { state: 'pulling' }, select: { id: true, nodeId: true } });
    const reported = seeded.nodes.flatMap((n) => n.activeJobs.map((id) => ({ id, nodeId: n.id })));
    expect(pulling.sort((a, b) => a.id.localeCompare(b.id))).toEqual(reported.sort((a, b) => a.id.localeCompare(b.id)));
    expect(seeded.counts.jobsInFlight).toBe(reported.length);
  });

  it('gives each node facts whose cache size is what it holds', async () => {
    for (const node of seeded.nodes) expect(node.facts.cache.bytes).toBe(node.images.reduce((sum, i) => sum + i.sizeBytes, 0));
    const fleet = await services.deps.db.project.findUniqueOrThrow({ where: { id: seeded.fleetProjectId }, include: { pins: true } });
    expect(fleet.pins.map((p) => p.tag)).toEqual([seeded.rolloutTag]);
  });
});
