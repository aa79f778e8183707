// A pass-through that checks a blob against its digest and size as it streams by, and holds back
// its last chunk until the check passes: whoever reads it (an upload) never receives the whole
// blob unless it is the right one, so a bad blob can never complete an upload, whatever the
// other side checks.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { parseDigest, type Digest } from '../digest.ts';
import { DigestMismatchError, SizeMismatchError, type OciError } from '../errors.ts';
import { noteBytesWritten } from '../memory.ts';

export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private held: Buffer | undefined;
  private bytes = 0;

  constructor(
    private readonly digest: Digest,
    private readonly size: number,
    private readonly what: string,
    /** Told before the stream errors, so the reader's abort can say why. */
    private readonly onFailure: (error: OciError) => void = () => {},
  ) {
    super();
    this.hash = createHash(parseDigest(digest).algorithm);
  }

  private fail(error: OciError, callback: TransformCallback): void {
    this.onFailure(error);
    callback(error);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.size) return this.fail(new SizeMismatchError(this.size, this.bytes, this.what), callback);
    this.hash.update(chunk);
    // Each chunk read from the tar is garbage once sent: let a host process collect it as it goes.
    noteBytesWritten(chunk.length);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.size) return this.fail(new SizeMismatchError(this.size, this.bytes, this.what), callback);
    const actual = `${parseDigest(this.digest).algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.digest) return this.fail(new DigestMismatchError(this.digest, actual, this.what), callback);
    callback(null, this.held);
  }
}
