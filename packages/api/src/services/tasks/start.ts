// The two tasks an admin starts from the dashboard, checked before anything is queued: the image
// is one the catalog offers (its URL and SHA-1 come from the catalog, never from the browser), the
// registry is connected, the tags are valid and allowed by the registry's tag policy; the bundle
// path is inside CIDER_BUNDLE_DIR and the project pins something.
import { AppError } from '../../errors.ts';
import type { Actor, ServiceDeps } from '../deps.ts';
import { catalogImage } from './apple-catalog.ts';
import { checkBundlePath } from './bundle-path.ts';
import { taskConfigOf } from './config.ts';
import { publishAppleParams } from './kinds.ts';
import { projectBundleReferences } from './project-bundle.ts';
import { createTask, type TaskView } from './tasks.ts';

export interface StartPublishFromAppleInput {
  build: string;
  registryId: string;
  repository: string;
  /** Default `<version>` and `<version>-<build>`. */
  tags?: string[];
}

export async function startPublishFromApple(deps: ServiceDeps, actor: Actor, input: StartPublishFromAppleInput): Promise<TaskView> {
  const registry = await deps.db.registry.findUnique({ where: { id: input.registryId } });
  if (!registry) throw new AppError('NOT_FOUND', 'No such registry; connect it on the Registries page first.');
  const repository = input.repository.trim().replace(/^\/+|\/+$/g, '');
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository)) {
    throw new AppError('BAD_REQUEST', `"${input.repository}" is not a repository name: lowercase letters, digits and . _ - separated by /, e.g. macos or apple/macos.`);
  }
  const image = await catalogImage(deps, input.build);
  const tags = input.tags?.length ? [...new Set(input.tags.map((t) => t.trim()).filter(Boolean))] : [image.version, `${image.version}-${image.build}`];
  const parsed = publishAppleParams.safeParse({
    version: image.version,
    build: image.build,
    url: image.url,
    ...(image.sha1 ? { sha1: image.sha1.toLowerCase() } : {}),
    registryId: registry.id,
    registryHost: registry.host,
    repository,
    tags,
  });
  if (!parsed.success) throw new AppError('BAD_REQUEST', parsed.error.issues.map((i) => i.message).join('; '));
  taskConfigOf(deps);
  return createTask(deps, actor, { kind: 'publish-apple', params: parsed.data }, 'task.publish-apple');
}

export async function startBundleExport(deps: ServiceDeps, actor: Actor, input: { projectId: string; path: string }): Promise<TaskView> {
  const config = taskConfigOf(deps);
  const path = await checkBundlePath(config.bundleDir, input.path);
  const bundle = await projectBundleReferences(deps, input.projectId);
  return createTask(
    deps,
    actor,
    { kind: 'bundle-export', params: { projectId: bundle.project.id, projectName: bundle.project.name, path, references: bundle.references, registryIds: bundle.registries.map((r) => r.id) } },
    'task.bundle-export',
  );
}
