// Test helpers shared by packages that test against real registries.
export { assertValidOci, schemaErrors, type OciSchema } from './schemas.ts';
export { startFaultProxy, type Fault, type FaultProxy, type FaultRule, type ProxiedRequest } from './fault-proxy.ts';
export { writeRandomFile } from './files.ts';
export { writeHtpasswd } from './htpasswd.ts';
export { startTokenServer, type TokenRequestRecord, type TokenServer, type TokenServerOptions, type TokenUser } from './token-server.ts';
export { useRegistryFixture, type RegistryFixture } from './fixture.ts';
export { makeSyntheticIpsw, defaultMacDevices, type SyntheticIpswOptions } from './ipsw.ts';
export { makeTestCertificate, type TestCertificate } from './tls.ts';
export { sendEndlessBody, startHostileRegistry, type EndlessBody, type HostileHandler, type HostileRegistry, type HostileRequest } from './hostile-registry.ts';
export { mountReflinkDisk, mountTmpfs, type SmallDisk } from './small-disk.ts';
export { describeSourceConformance, type ConformanceSubject } from './conformance.ts';
export { startRangeServer, type RangeFault, type RangeServer, type RangeServerOptions, type ServedRequest } from './range-server.ts';
export { makeAppleCatalog, type CatalogEntry } from './apple-catalog.ts';
export { rewriteTar, skopeo, type EntryEdit } from './bundle.ts';
