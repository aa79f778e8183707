// The source conformance suite (./testing/conformance.ts) against every source the library has:
// the in-memory store, and the registry client on the run's docker-registry.
import { inject } from 'vitest';
import { MemoryStore } from './memory-store.ts';
import { RegistryClient } from './registry/client.ts';
import { describeSourceConformance } from '../testing/conformance.ts';

describeSourceConformance('in-memory store', () => ({ store: new MemoryStore() }));

describeSourceConformance('registry client on docker-registry', () => {
  const client = new RegistryClient();
  return { store: client.store(inject('registryHost')), close: () => client.close() };
});
