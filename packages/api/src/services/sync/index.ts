// The sync job lifecycle: its table (lifecycle.ts), the one writer of a job's state
// (transitions.ts), what dispatchers hear (outcomes.ts), and an agent's reconnect (reconnect.ts).
export * from './lifecycle.ts';
export * from './outcomes.ts';
export * from './reconnect.ts';
export * from './transitions.ts';
