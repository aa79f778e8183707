// The audit log's changes in words: what a reader sees for creations, updates and deletions.
import { describe, expect, it } from 'vitest';
import { describeChanges, fieldLabel, plainValue, referencedIds } from './changes.ts';

const registryId = '5d0c6f5e-8a3c-4b8e-9a57-0f3a4f6d2b11';
const teamId = '0b6c1c3e-2f7d-4a55-8f6e-7a1d9e3c4b22';

describe('audit changes in words', () => {
  it('shows only what an update changed, as before → after', () => {
    expect(describeChanges({ id: 'x', name: 'iOS', teamId }, { id: 'x', name: 'iOS CI', teamId })).toEqual([{ field: 'Name', before: 'iOS', after: 'iOS CI' }]);
  });

  it('names referenced objects and hides bookkeeping ids', () => {
    const names = new Map([[registryId, 'office registry']]);
    const pin = { id: 'p', projectId: 'gone', registryId, createdById: 'u', reference: 'r/x:1', mode: 'follow', createdAt: '2026-11-26T10:00:00.000Z' };
    expect(describeChanges(undefined, pin, names)).toEqual([
      { field: 'Project', after: 'a deleted object' },
      { field: 'Registry', after: 'office registry' },
      { field: 'Reference', after: 'r/x:1' },
      { field: 'Mode', after: 'follow' },
    ]);
    expect(describeChanges({ name: 'old team', members: [] }, undefined)).toEqual([
      { field: 'Name', before: 'old team' },
      { field: 'Members', before: 'none' },
    ]);
  });

  it('writes values plainly: yes/no, none, UTC times, label maps, nested paths', () => {
    expect(plainValue(true)).toBe('yes');
    expect(plainValue(null)).toBe('none');
    expect(plainValue('2026-11-26T16:03:17.123Z')).toBe('2026-11-26 16:03 UTC');
    expect(plainValue({ os: 'macos', site: 'berlin' })).toBe('os=macos, site=berlin');
    expect(fieldLabel('nodeSelector')).toBe('Node selector');
    expect(fieldLabel('plainHttp')).toBe('Plain HTTP');
    expect(fieldLabel('facts.disk.freeBytes')).toBe('Facts › disk › free bytes');
    expect(describeChanges({ immutableTags: false, nodeSelector: { os: 'macos' } }, { immutableTags: true, nodeSelector: { os: 'macos', site: 'b' } })).toEqual([
      { field: 'Immutable tags', before: 'no', after: 'yes' },
      { field: 'Node selector', before: 'os=macos', after: 'os=macos, site=b' },
    ]);
    expect(describeChanges({ facts: { disk: { freeBytes: 5 } } }, { facts: { disk: { freeBytes: 3 } } })).toEqual([{ field: 'Facts › disk › free bytes', before: '5', after: '3' }]);
  });

  it('shows a name written beside its id once', () => {
    expect(describeChanges(undefined, { registryId, registry: 'office', site: 'berlin' }, new Map([[registryId, 'office']]))).toEqual([
      { field: 'Registry', after: 'office' },
      { field: 'Site', after: 'berlin' },
    ]);
  });

  it('collects the ids to look up, by type, nested too', () => {
    const wanted = referencedIds([{ registryId, nested: { teamId } }, null, { teamId }]);
    expect(Object.fromEntries([...wanted].map(([type, ids]) => [type, [...ids]]))).toEqual({ registry: [registryId], team: [teamId] });
  });
});
