// Browsing images in connected registries: repositories from the catalog (catalog.ts), tags
// (tags.ts), and one tag or digest laid out for people (detail.ts, with the config reading in
// cider-config.ts), with the nodes holding it and the pins asking for it.
export { imageRegistries, registryRepositories, type Catalog } from './catalog.ts';
export { maxResolvedTags, repositoryTags } from './tags.ts';
export { imageDetail, maxReferrers, type ReferrerView, type Referrers } from './detail.ts';
export { imageHolders } from './holders.ts';
export { maxConfigBytes, parseCiderConfig, type CiderConfig, type CiderConfigFile } from './cider-config.ts';
export { pickLimit, pickRepositories, pickTags } from './pick.ts';
