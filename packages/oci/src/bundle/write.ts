// writeBundle: the tar of a plan, streamed from the registries into any Writable (a file, an HTTP
// response). Each blob goes from the registry's response straight into the output, hashed as it
// passes; the output's backpressure pauses the download, so memory stays flat at any size and
// nothing is staged on disk. A blob that does not match its digest (or size) fails the write
// before its last block is written, so the tar is never complete with bad content in it.
// A connection that drops mid-blob is resumed with a Range request where it stopped.
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Digest } from '../digest.ts';
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors.ts';
import { bodyReadFailure } from '../http/transport.ts';
import { noteBytesWritten } from '../memory.ts';
import type { RegistryClient } from '../registry/client.ts';
import { layoutEntries, layoutIndex, layoutTarBytes, ociLayoutBytes } from './layout.ts';
import { endOfArchive, entryHeader, padding, type TarEntry } from './tar.ts';
import type { BundleBlob, BundlePlan, WriteBundleOptions } from './types.ts';

/** Tries of one blob's download (the first, then resumes after a dropped connection). */
const blobAttempts = 5;

/** The output with its backpressure honoured: write() resolves once the output can take more. */
class TarOutput {
  written = 0;
  /** The output's first error: kept, so a failed write is reported with its cause (and never goes unhandled). */
  private failure: Error | undefined;
  private readonly onError = (error: Error) => {
    this.failure ??= error;
  };

  constructor(
    private readonly output: Writable,
    private readonly signal: AbortSignal | undefined,
  ) {
    output.on('error', this.onError);
  }

  /** Stops listening; an output error after this is the owner's to handle. */
  release(): void {
    this.output.off('error', this.onError);
  }

  write(chunk: Buffer): Promise<void> | undefined {
    const output = this.output;
    if (this.failure) throw new OciError('CACHE_IO', `Writing the bundle failed: ${this.failure.message}`, { cause: this.failure });
    if (output.destroyed || output.writableEnded) throw new OciError('CACHE_IO', 'The bundle output was closed before the bundle was complete (a download cancelled, a disk failed).');
    this.written += chunk.length;
    if (output.write(chunk)) return undefined;
    return new Promise((resolve, reject) => {
      const done = (error?: unknown) => {
        output.off('drain', onDrain);
        output.off('close', onClose);
        output.off('error', onError);
        this.signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onDrain = () => done();
      const onClose = () => done(new OciError('CACHE_IO', 'The bundle output was closed before the bundle was complete (a download cancelled, a disk failed).'));
      const onError = (error: Error) => done(new OciError('CACHE_IO', `Writing the bundle failed: ${error.message}`, { cause: error }));
      const onAbort = () => done(this.signal?.reason);
      output.once('drain', onDrain);
      output.once('close', onClose);
      output.once('error', onError);
      this.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async entry(entry: TarEntry, data?: Buffer): Promise<void> {
    await this.write(entryHeader(entry));
    if (data) {
      await this.write(data);
      await this.write(padding(data.length));
    }
  }
}

/** Copies one blob from its registry into the output, checking its size and digest on the way. */
async function copyBlob(client: RegistryClient, blob: BundleBlob, out: TarOutput, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<void> {
  const repo = client.repository(blob.registry, blob.repository);
  const what = `blob ${blob.digest} of ${blob.registry}/${blob.repository}`;
  if (blob.kind === 'manifest') {
    const fetched = await repo.fetchManifest(blob.digest); // checked against the digest there
    if (fetched.bytes.length !== blob.size) throw new SizeMismatchError(blob.size, fetched.bytes.length, `manifest ${blob.digest}`);
    await out.write(fetched.bytes);
    onBytes(blob.size);
    return;
  }
  const hash = createHash(blob.digest.slice(0, blob.digest.indexOf(':')));
  let done = 0;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const read = await repo.fetchBlob(blob.digest, done > 0 ? { offset: done, signal } : { signal });
    // A registry that ignored the Range sends the blob from byte 0: skip what is already written.
    let skip = read.status === 200 ? done : 0;
    try {
      await read.body.consume((chunk) => {
        let data = chunk;
        if (skip > 0) {
          const dropped = Math.min(skip, data.length);
          skip -= dropped;
          data = data.subarray(dropped);
          if (data.length === 0) return undefined;
        }
        if (done + data.length > blob.size) throw new SizeMismatchError(blob.size, done + data.length, what);
        hash.update(data);
        done += data.length;
        onBytes(data.length);
        noteBytesWritten(data.length);
        return out.write(data);
      });
      break;
    } catch (error) {
      // A cancelled read surfaces as a reset connection: say why it really stopped.
      signal?.throwIfAborted();
      const failure = error instanceof OciError ? error : bodyReadFailure(error, blob.registry, what, { method: 'GET', url: `/v2/${blob.repository}/blobs/${blob.digest}` });
      if (!(failure instanceof OciError) || !failure.retryable || attempt >= blobAttempts) throw failure;
    }
  }
  if (done !== blob.size) throw new SizeMismatchError(blob.size, done, what);
  const actual = `${blob.digest.slice(0, blob.digest.indexOf(':'))}:${hash.digest('hex')}` as Digest;
  if (actual !== blob.digest) throw new DigestMismatchError(blob.digest, actual, what);
}

export async function writeBundle(plan: BundlePlan, options: WriteBundleOptions): Promise<void> {
  const { signal } = options;
  const out = new TarOutput(options.output, signal);
  try {
    await writeTar(plan, options, out);
  } finally {
    out.release();
  }
}

async function writeTar(plan: BundlePlan, options: WriteBundleOptions, out: TarOutput): Promise<void> {
  const { client, signal } = options;
  const index = layoutIndex(plan);
  const entries = layoutEntries(plan, index);
  if (layoutTarBytes(entries) !== plan.tarBytes) throw new RangeError(`bundle plan says ${plan.tarBytes} tar bytes but describes ${layoutTarBytes(entries)}: it was changed after planBundle`);
  let contentDone = 0;
  const report = (digest?: Digest) => options.onProgress?.({ bytesDone: out.written, bytesTotal: plan.tarBytes, ...(digest ? { digest } : {}) });
  const blobStart = entries.length - plan.blobs.length;
  for (const [i, entry] of entries.entries()) {
    signal?.throwIfAborted();
    if (i < blobStart) {
      await out.entry(entry, entry.name === 'oci-layout' ? ociLayoutBytes : entry.name === 'index.json' ? index : undefined);
      continue;
    }
    const blob = plan.blobs[i - blobStart]!;
    await out.entry(entry);
    let sinceReport = 0;
    await copyBlob(client, blob, out, signal, (n) => {
      contentDone += n;
      sinceReport += n;
      if (sinceReport >= 4 * 1024 * 1024) {
        sinceReport = 0;
        report(blob.digest);
      }
    });
    await out.write(padding(blob.size));
    report(blob.digest);
  }
  await out.write(endOfArchive);
  report();
  if (out.written !== plan.tarBytes || contentDone !== plan.contentBytes) {
    throw new OciError('CACHE_IO', `The bundle came out at ${out.written} bytes where its plan says ${plan.tarBytes}; it is incomplete. This is a bug in Cider; please report it.`);
  }
}
