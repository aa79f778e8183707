// Where an imported image goes: the rule README's table states, for every kind of ref name a bundle
// may carry (ours, skopeo's tag-only names, full references), and the targets refused.
import { describe, expect, it } from 'vitest';
import type { Digest } from '../digest.ts';
import { parseTarget, placeRefName } from './placement.ts';

const digest = `sha256:${'a'.repeat(64)}` as Digest;

describe('import placement', () => {
  it('parses <registry>[/prefix] and refuses what is not one', () => {
    expect(parseTarget('127.0.0.1:5000')).toEqual({ registry: '127.0.0.1:5000' });
    expect(parseTarget('registry.site.local/mirror/macos/')).toEqual({ registry: 'registry.site.local', prefix: 'mirror/macos' });
    expect(() => parseTarget('http://127.0.0.1:5000')).toThrow(/drop the scheme/);
    expect(() => parseTarget('127.0.0.1:5000/Upper')).toThrow(/repository names must be lowercase/);
    expect(() => parseTarget('127.0.0.1:5000/x:tag')).toThrow(/give the registry as host\[:port\]/);
  });

  it.each([
    ['demo/macos:15.2', '127.0.0.1:5000', { repository: 'demo/macos', tag: '15.2' }],
    ['demo/macos:15.2', '127.0.0.1:5000/mirror', { repository: 'mirror/demo/macos', tag: '15.2' }],
    [`demo/macos@${'a'.repeat(64)}`, '127.0.0.1:5000/mirror', { repository: 'mirror/demo/macos' }],
    ['macos:15.2', '127.0.0.1:5000', { repository: 'macos', tag: '15.2' }],
    ['15.2', '127.0.0.1:5000/demo/macos', { repository: 'demo/macos', tag: '15.2' }],
    ['ghcr.io/a/b:1', '127.0.0.1:5000/mirror', { repository: 'mirror/a/b', tag: '1' }],
    ['demo/macos', '127.0.0.1:5000', { repository: 'demo/macos', tag: 'latest' }],
  ])('%s into %s', (refName, target, expected) => {
    expect(placeRefName(refName, digest, parseTarget(target))).toEqual(expected);
  });

  it('explains the rule when a tag-only name has no prefix to be its repository', () => {
    expect(() => placeRefName('15.2', digest, parseTarget('127.0.0.1:5000'))).toThrow(
      'The bundle names an image only by the tag "15.2" (skopeo writes oci-archive names so), without a repository. Give the repository after the registry: 127.0.0.1:5000/<repository> puts it at 127.0.0.1:5000/<repository>:15.2.',
    );
  });

  it('refuses a digest name that contradicts its entry', () => {
    expect(() => placeRefName(`demo/macos@${'b'.repeat(64)}`, digest, parseTarget('127.0.0.1:5000'))).toThrow(/index.json entry is sha256:a/);
    expect(() => placeRefName(`demo/macos:1@sha256:${'b'.repeat(64)}`, digest, parseTarget('127.0.0.1:5000'))).toThrow(/index.json entry is sha256:a/);
  });
});
