// The dashboard as a browser or script sees it, over HTTP: tRPC calls (superjson envelopes),
// pages, and the live event stream (SSE). Every request carries a deadline: an answer that does
// not come within it is a hang, reported as such.
import superjson from 'superjson';

export interface Answer<T = unknown> {
  status: number;
  /** The procedure's result when status is 200. */
  data?: T;
  /** The error message and tRPC code otherwise. */
  message?: string;
  code?: string;
  headers: Headers;
}

export class NoAnswer extends Error {
  override name = 'NoAnswer';
}

const defaultDeadlineMs = 5_000;

async function within(what: string, deadlineMs: number, request: (signal: AbortSignal) => Promise<Response>): Promise<Response> {
  try {
    return await request(AbortSignal.timeout(deadlineMs));
  } catch (error) {
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
      throw new NoAnswer(`${what}: no answer within ${deadlineMs / 1000} s`);
    }
    throw error;
  }
}

export class WebClient {
  cookie: string | undefined;

  constructor(readonly baseUrl: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.cookie ? { cookie: this.cookie } : {}), ...extra };
  }

  private async answer<T>(response: Response): Promise<Answer<T>> {
    const text = await response.text();
    let body: { result?: { data?: unknown }; error?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return { status: response.status, message: text.slice(0, 500), headers: response.headers };
    }
    if (body.error) {
      const error = superjson.deserialize(body.error as Parameters<typeof superjson.deserialize>[0]) as { message?: string; data?: { code?: string } };
      return { status: response.status, message: error.message, code: error.data?.code, headers: response.headers };
    }
    return { status: response.status, data: superjson.deserialize(body.result?.data as Parameters<typeof superjson.deserialize>[0]) as T, headers: response.headers };
  }

  async query<T = unknown>(path: string, input?: unknown, deadlineMs = defaultDeadlineMs): Promise<Answer<T>> {
    const search = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`;
    const response = await within(`query ${path}`, deadlineMs, (signal) => fetch(`${this.baseUrl}/api/trpc/${path}${search}`, { headers: this.headers(), signal }));
    return this.answer<T>(response);
  }

  async mutation<T = unknown>(path: string, input: unknown, deadlineMs = defaultDeadlineMs): Promise<Answer<T>> {
    const response = await within(`mutation ${path}`, deadlineMs, (signal) =>
      fetch(`${this.baseUrl}/api/trpc/${path}`, {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(superjson.serialize(input)),
        signal,
      }),
    );
    return this.answer<T>(response);
  }

  /** Signs in and keeps the session cookie for later calls. */
  async signIn(email: string, password: string, deadlineMs = defaultDeadlineMs): Promise<Answer> {
    const answer = await this.mutation('auth.signIn', { email, password }, deadlineMs);
    const cookie = answer.headers.get('set-cookie');
    if (answer.status === 200 && cookie) this.cookie = cookie.split(';')[0];
    return answer;
  }

  /** A server-rendered page: its status and HTML. */
  async page(path: string, deadlineMs = defaultDeadlineMs): Promise<{ status: number; html: string }> {
    const response = await within(`page ${path}`, deadlineMs, (signal) => fetch(`${this.baseUrl}${path}`, { headers: this.headers(), redirect: 'manual', signal }));
    return { status: response.status, html: await response.text() };
  }

  /** Opens the live event stream (tRPC subscription over SSE). */
  async events(deadlineMs = defaultDeadlineMs): Promise<EventStream> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), deadlineMs);
    try {
      const response = await fetch(`${this.baseUrl}/api/trpc/events.stream`, { headers: this.headers({ accept: 'text/event-stream' }), signal: controller.signal });
      clearTimeout(timer);
      return new EventStream(response, controller);
    } catch (error) {
      clearTimeout(timer);
      throw new NoAnswer(`events.stream: no answer within ${deadlineMs / 1000} s (${String(error)})`);
    }
  }
}

export interface SseEvent {
  event: string;
  data: string;
}

/** Reads server-sent events as they come; `next(ms)` waits at most `ms` for the next one. */
export class EventStream {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private readonly decoder = new TextDecoder();
  private readonly pending: SseEvent[] = [];
  private ended = false;

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    this.reader = response.body?.getReader();
  }

  get status(): number {
    return this.response.status;
  }

  /** The next event, or `{ event: 'end' }` when the server closed the stream; throws NoAnswer after `ms`. */
  async next(ms: number): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const queued = this.pending.shift();
      if (queued) return queued;
      if (this.ended || !this.reader) return { event: 'end', data: '' };
      const left = deadline - Date.now();
      if (left <= 0) throw new NoAnswer(`no event within ${ms / 1000} s`);
      let timer: NodeJS.Timeout | undefined;
      const read = await Promise.race([
        this.reader.read(),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left))),
      ]).finally(() => clearTimeout(timer));
      if (read === 'timeout') throw new NoAnswer(`no event within ${ms / 1000} s`);
      if (read.done) {
        this.ended = true;
        continue;
      }
      this.buffer += this.decoder.decode(read.value, { stream: true });
      let split: number;
      while ((split = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, split);
        this.buffer = this.buffer.slice(split + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length > 0 || event !== 'message') this.pending.push({ event, data: data.join('\n') });
      }
    }
  }

  /** Reads events until one matches, or the stream ends; throws NoAnswer after `ms`. */
  async until(ms: number, match: (event: SseEvent) => boolean): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event.event === 'end' || match(event)) return event;
    }
  }

  close(): void {
    this.controller.abort();
    void this.reader?.cancel().catch(() => {});
  }
}
