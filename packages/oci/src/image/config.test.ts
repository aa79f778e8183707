import { describe, expect, it } from 'vitest';
import { sha256 } from '../digest.ts';
import { checkCiderImageConfig, payloadFilesOf } from './config.ts';

const d = (text: string) => sha256(Buffer.from(text));

const file = {
  name: 'UniversalMac_15.2_24C101_Restore.ipsw',
  kind: 'ipsw',
  size: 10,
  digest: d('whole'),
  pieceSize: 4,
  parts: [{ digest: d('part'), size: 10, pieces: [d('p1'), d('p2'), d('p3')] }],
};
const config = {
  os: 'macOS',
  version: '15.2',
  build: '24C101',
  architecture: 'arm64',
  platform: { os: 'darwin', architecture: 'arm64' },
  created: '2026-11-26T10:00:00.000Z',
  payload: { name: file.name, size: 10 },
  files: [file],
};

describe('the Cider image config schema', () => {
  it('accepts what cider image push writes, filling the media type from the kind', () => {
    const checked = checkCiderImageConfig(config);
    expect(checked.files[0]).toMatchObject({ kind: 'ipsw', mediaType: 'application/vnd.cider.ipsw' });
    expect(payloadFilesOf(config)).toEqual(checked.files);
    expect(payloadFilesOf({ os: 'macOS' })).toBeUndefined();
  });

  it('reads kinds from a newer publisher as disk images', () => {
    expect(payloadFilesOf({ files: [{ ...file, kind: 'hologram', mediaType: undefined }] })![0]).toMatchObject({ kind: 'disk', mediaType: 'application/vnd.ironcore.image.disk.img' });
  });

  it.each([
    ['a piece count that does not fit the part', { ...file, parts: [{ ...file.parts[0], pieces: [d('p1')] }] }, /files\[0\]\.parts\[0\]\.pieces: 1 pieces for 10 bytes/],
    ['parts that do not add up to the file', { ...file, size: 11 }, /files\[0\]\.parts: its parts do not add up to its size/],
    ['a file name with a path', { ...file, name: '../etc/passwd' }, /files\[0\]\.name: not a file name/],
    ['a digest that is not one', { ...file, digest: 'sha256:xyz' }, /files\[0\]\.digest: not a valid digest/],
    ['a zero piece size', { ...file, pieceSize: 0 }, /files\[0\]\.pieceSize/],
    ['no parts', { ...file, parts: [] }, /files\[0\]\.parts/],
  ])('refuses %s, naming where', (_what, bad, message) => {
    expect(() => payloadFilesOf({ files: [bad] })).toThrow(message);
    expect(() => checkCiderImageConfig({ ...config, files: [bad] })).toThrow(/^Invalid Cider image config: files\[0\]/);
  });

  it('refuses a config that is not a list of files, or lacks what every image states', () => {
    expect(() => payloadFilesOf({ files: 'not a list' })).toThrow(/Invalid Cider image config: files: /);
    expect(() => checkCiderImageConfig({ ...config, architecture: undefined })).toThrow(/architecture/);
    expect(() => checkCiderImageConfig({ ...config, created: 'yesterday' })).toThrow(/created/);
  });
});
