// Reading from another agent's peer server (apps/agent/src/peer/server.ts) over HTTP: blob ranges
// at /v2/cider/blobs/<digest> and what it holds at /cider/v1/pieces/<digest>, each request with
// the peer ticket the control plane issued for this reader, that peer and the image. Nothing a
// peer says is trusted: bytes are checked against piece digests by the swarm (./swarm.ts), and
// what it claims to hold only steers the scheduling.
import { OciError } from './errors.ts';
import type { Digest } from './digest.ts';
import { HttpClient, type HttpResponseData } from './http/http-client.ts';
import { maxPieces } from './cache/pieces.ts';
import type { BlobRange, BlobRead } from './source.ts';
import type { PeerLink, PeerPieces } from './swarm.ts';

export interface PeerClientOptions {
  /** The peer's node id and name. */
  id: string;
  name: string;
  /** `http://<address>:<port>` of its peer server; tried in order until one answers. */
  urls: readonly string[];
  ticket: string;
  /** This node's id, sent as X-Cider-Node (the peer checks it against the ticket's reader). */
  readerId?: string;
  /** Shared by the peers of one pull; made (and closed by close()) when not given. */
  http?: HttpClient;
  /** A body that sends nothing for this long is dropped. Default 15 s. */
  idleTimeoutMs?: number;
}

/** Largest answer to a pieces request: two bitfields of maxPieces bits in base64, and a little JSON. */
const maxPiecesAnswer = 2 * Math.ceil(maxPieces / 8 / 3) * 4 + 1024;

export class PeerClient implements PeerLink {
  readonly id: string;
  readonly name: string;
  private readonly http: HttpClient;
  private readonly ownsHttp: boolean;
  private preferred = 0;

  constructor(private readonly options: PeerClientOptions) {
    if (options.urls.length === 0) throw new Error(`peer ${options.name} has no address`);
    this.id = options.id;
    this.name = options.name;
    this.ownsHttp = !options.http;
    this.http = options.http ?? new HttpClient({ maxSocketsPerOrigin: 4, connectTimeoutMs: 3_000 });
  }

  async fetchBlob(digest: Digest, range: BlobRange): Promise<BlobRead> {
    const headers: Record<string, string> = {};
    if (range.offset !== undefined || range.end !== undefined) headers.Range = `bytes=${range.offset ?? 0}-${range.end ?? ''}`;
    const response = await this.send(`/v2/cider/blobs/${digest}`, 'GET', headers, range.signal);
    if (response.statusCode === 200 || response.statusCode === 206) {
      const length = Number(response.headers['content-length']);
      return {
        status: response.statusCode,
        offset: response.statusCode === 206 ? (range.offset ?? 0) : 0,
        ...(Number.isSafeInteger(length) ? { length } : {}),
        body: response.body,
      };
    }
    throw await this.failure(response, `blob ${digest}`);
  }

  async pieces(digest: Digest, signal?: AbortSignal): Promise<PeerPieces | undefined> {
    const response = await this.send(`/cider/v1/pieces/${digest}`, 'GET', {}, signal);
    if (response.statusCode === 404) {
      await response.body.dump();
      return undefined;
    }
    if (response.statusCode !== 200) throw await this.failure(response, `the pieces of ${digest}`);
    const answer = (await response.body.json(maxPiecesAnswer)) as { complete?: unknown; pieceSize?: unknown; bits?: unknown; fetching?: unknown };
    if (answer.complete === true) return 'all';
    if (typeof answer.pieceSize !== 'number' || !Number.isSafeInteger(answer.pieceSize) || answer.pieceSize <= 0 || typeof answer.bits !== 'string') {
      throw new OciError('REGISTRY_ERROR', `Peer ${this.name} answered a pieces request with something else`, { retryable: false });
    }
    const fetching = typeof answer.fetching === 'string' ? new Uint8Array(Buffer.from(answer.fetching, 'base64')) : undefined;
    return { pieceSize: answer.pieceSize, bits: new Uint8Array(Buffer.from(answer.bits, 'base64')), ...(fetching ? { fetching } : {}) };
  }

  close(): void {
    if (this.ownsHttp) this.http.close();
  }

  /** Sends to the address that answered last, then the others: a Mac may be reachable on one interface only. */
  private async send(path: string, method: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<HttpResponseData> {
    const all: Record<string, string> = { ...headers, Authorization: `Bearer ${this.options.ticket}` };
    if (this.options.readerId) all['X-Cider-Node'] = this.options.readerId;
    const urls = this.options.urls;
    let last: unknown;
    for (let i = 0; i < urls.length; i++) {
      const which = (this.preferred + i) % urls.length;
      try {
        const response = await this.http.request(`${urls[which]}${path}`, { method, headers: all, signal, idleTimeoutMs: this.options.idleTimeoutMs ?? 15_000 });
        this.preferred = which;
        return response;
      } catch (error) {
        if (signal?.aborted) throw error;
        last = error;
      }
    }
    throw new OciError('UNREACHABLE', `Peer ${this.name} is unreachable: ${last instanceof Error ? last.message : String(last)}`, { cause: last, retryable: true });
  }

  private async failure(response: HttpResponseData, what: string): Promise<OciError> {
    await response.body.dump();
    const status = response.statusCode;
    const message = `Peer ${this.name} answered ${status} for ${what}`;
    if (status === 401) return new OciError('UNAUTHORIZED', `${message}: it refused the ticket`);
    if (status === 404) return new OciError('NOT_FOUND', message);
    if (status === 416) return new OciError('INVALID_RANGE', message);
    // Its upload slots are taken: not a failure of the peer, only a moment to wait.
    if (status === 503) return new OciError('BUSY', `${message}: busy`, { retryable: true });
    return new OciError('UNREACHABLE', message, { retryable: status === 503 || status >= 500 });
  }
}
