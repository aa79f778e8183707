// The domain services, grouped by resource: access (sign-in, users, teams, API tokens), audit,
// registries (and their watch), images, projects (and pins), fleet (desired state, reconcile, the
// overview), nodes (enrollment, identity, inventory, detail) and sync (the sync job lifecycle, the
// agents' reports, the jobs list). Callers import from here.
export * from './deps.ts';
export * from './access/auth.ts';
export * from './access/users.ts';
export * from './access/teams.ts';
export * from './access/api-tokens.ts';
export * from './audit/record.ts';
export * from './audit/log.ts';
export * from './registries/registries.ts';
export * from './registries/watch.ts';
export * from './registries/mirrors.ts';
export * from './registries/lifecycle.ts';
export * from './names.ts';
export * from './images/index.ts';
export * from './projects/projects.ts';
export * from './projects/pins.ts';
export * from './fleet/desired-state.ts';
export * from './fleet/reconcile.ts';
export * from './fleet/overview.ts';
export * from './fleet/attention.ts';
export * from './fleet/fleet-gauges.ts';
export * from './fleet/fleet-totals.ts';
export * from './fleet/rollouts-in-flight.ts';
export * from './fleet/trends.ts';
export * from './fleet/peer-tickets.ts';
export * from './fleet/peers.ts';
export * from './nodes/enrollment.ts';
export * from './nodes/nodes.ts';
export * from './nodes/admin.ts';
export * from './nodes/decommission.ts';
export * from './nodes/notices.ts';
export * from './nodes/inventory.ts';
export * from './nodes/detail.ts';
export * from './nodes/conditions.ts';
export * from './nodes/node-page.ts';
export * from './sync/index.ts';
export * from './sync/reports.ts';
export * from './sync/jobs.ts';
export { AppError, isAppError, type AppErrorCode } from '../errors.ts';
export { parseSecretKey, seal, open } from '../secrets.ts';
export { hashPassword, verifyPassword, hashToken, newToken } from '../crypto.ts';
export { JobQueues, jobCatalog, jobNames, type JobName, type JobPayload } from '../jobs/catalog.ts';
export { createConsumers, parseJobPayload, type JobConsumers, type JobHandler, type JobHandlers } from '../jobs/consumers.ts';
export { EventHub, RedisEventPublisher, eventsChannel, fleetEvent, type EventPublisher, type FleetEvent } from '../events.ts';
export * from './tasks/index.ts';
