// "Download bundle" on a project's page: the bundle of the project's pinned digests streamed
// straight from the registry into the HTTP response. The plan comes first, so Content-Length is
// the tar's exact size; the tar is then written with backpressure (a slow browser slows the
// registry reads, so the web process's memory stays flat at any size), and a browser that goes
// away aborts the registry reads. Admins only; the session cookie is SameSite and this is a GET,
// so no token rides in the URL.
import { PassThrough } from 'node:stream';
import { readCookie, sessionCookieName } from '../../cookies.ts';
import { AppError, isAppError } from '../../errors.ts';
import { serviceOutage } from '../../outage.ts';
import { userForSession } from '../access/auth.ts';
import { recordAudit } from '../audit/record.ts';
import type { ServiceDeps } from '../deps.ts';
import { clientForRegistries } from '../registries/registries.ts';
import { taskConfigOf } from './config.ts';
import { bundleFileName, projectBundleReferences } from './project-bundle.ts';

const statusOf: Partial<Record<AppError['code'], number>> = { BAD_REQUEST: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, REGISTRY_UNREACHABLE: 502, REGISTRY_AUTH: 502, REGISTRY_ERROR: 502 };

function errorResponse(error: unknown): Response {
  const outage = serviceOutage(error);
  const [status, message] = isAppError(error)
    ? [statusOf[error.code] ?? 500, error.message]
    : outage
      ? [503, outage.message]
      : [500, `Could not prepare the bundle: ${(error as Error)?.message ?? String(error)}`];
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

/** The GET handler's work: checks the session, plans the bundle, streams it. Never throws. */
export async function bundleDownloadResponse(deps: ServiceDeps, request: Request, projectId: string): Promise<Response> {
  const abort = new AbortController();
  const onGone = () => abort.abort(new Error('the browser went away'));
  request.signal.addEventListener('abort', onGone, { once: true });
  let client: ReturnType<typeof clientForRegistries> | undefined;
  try {
    if (!/^[0-9a-f-]{36}$/i.test(projectId)) throw new AppError('NOT_FOUND', 'No such project.');
    const user = await userForSession(deps, readCookie(request.headers.get('cookie'), sessionCookieName));
    if (!user) throw new AppError('UNAUTHENTICATED', 'Sign in first.');
    if (user.role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can download bundles.');
    const { runners } = taskConfigOf(deps);
    const bundle = await projectBundleReferences(deps, projectId);
    client = clientForRegistries(deps, bundle.registries);
    const plan = await runners.planBundle({ client, references: bundle.references, signal: abort.signal });
    const actor = { userId: user.id, label: user.email };
    await deps.db.$transaction((tx) =>
      recordAudit(tx, actor, 'bundle.download', { type: 'project', id: bundle.project.id }, undefined, { references: bundle.references, tarBytes: plan.tarBytes }),
    );

    const tar = new PassThrough({ highWaterMark: 1024 * 1024 });
    const writing = runners.writeBundle(plan, { client, output: tar, signal: abort.signal });
    const owned = client;
    client = undefined;
    writing.then(
      () => tar.end(),
      (error: unknown) => tar.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    void writing.catch(() => {}).finally(() => {
      request.signal.removeEventListener('abort', onGone);
      void owned.close();
    });
    const chunks = tar[Symbol.asyncIterator]();
    // Pulled by the response: one chunk at a time, so the tar is produced only as fast as it is sent.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(new Uint8Array(next.value as Buffer));
        } catch (error) {
          controller.error(error);
        }
      },
      cancel() {
        onGone();
        tar.destroy();
      },
    });
    const filename = bundleFileName(bundle.project.name);
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'application/x-tar',
        'content-length': String(plan.tarBytes),
        // Next.js drops Content-Length from route handlers; apps/web/server.mjs restores it from this.
        'x-cider-content-length': String(plan.tarBytes),
        'content-disposition': `attachment; filename="${filename}"`,
        // no-transform: Next.js's gzip would drop Content-Length and spend a CPU on a 17 GB tar of compressed payloads.
        'cache-control': 'no-store, no-transform',
        'x-content-type-options': 'nosniff',
      },
    });
  } catch (error) {
    request.signal.removeEventListener('abort', onGone);
    await client?.close();
    return errorResponse(error);
  }
}
