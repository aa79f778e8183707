// GET /api/bundles/projects/<id>: the bundle of a project's pins as a tar download (admins). The
// work (session check, plan, streaming with backpressure, abort on disconnect) is
// @cider/api's bundleDownloadResponse; this file gives it the process's connections.
import { bundleDownloadResponse } from '@cider/api/services';
import { services } from '../../../../../server/services.ts';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const { id } = await context.params;
  return bundleDownloadResponse(services().deps, request, id);
}
