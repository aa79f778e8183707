/** What "Immutable tags" means on a registry, in one line (form hint and table). */
export const immutableTagsExplanation = 'Pushing over an existing tag fails; the registry watcher flags any tag that moves anyway.';
