// A project's pins as bundle references: `<registry>/<repository>:<tag>@<digest>`, so the bundle
// holds exactly the pinned digests and names each by its tag (the ref name), whatever the tag
// points to by the time the bundle is written.
import type { Registry } from '@cider/db';
import { AppError } from '../../errors.ts';
import type { ServiceDeps } from '../deps.ts';

export const maxBundlePins = 500;

export async function projectBundleReferences(deps: ServiceDeps, projectId: string): Promise<{ project: { id: string; name: string }; references: string[]; registries: Registry[] }> {
  const project = await deps.db.project.findUnique({
    where: { id: projectId },
    select: { id: true, name: true, pins: { include: { registry: true }, orderBy: { reference: 'asc' }, take: maxBundlePins + 1 } },
  });
  if (!project) throw new AppError('NOT_FOUND', 'No such project.');
  if (project.pins.length === 0) throw new AppError('BAD_REQUEST', `${project.name} pins no image yet: pin one first, then export its bundle.`);
  if (project.pins.length > maxBundlePins) throw new AppError('BAD_REQUEST', `${project.name} pins more than ${maxBundlePins} images; a bundle holds at most that many.`);
  const registries = new Map<string, Registry>();
  const references = new Set<string>();
  for (const pin of project.pins) {
    registries.set(pin.registry.id, pin.registry);
    references.add(`${pin.registry.host}/${pin.repository}:${pin.tag}@${pin.digest}`);
  }
  return { project: { id: project.id, name: project.name }, references: [...references], registries: [...registries.values()] };
}

/** A file name for a project's bundle: `<project>-<date>.tar`, with only safe characters. */
export function bundleFileName(projectName: string, now = new Date()): string {
  const slug = projectName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'project';
  return `${slug}-${now.toISOString().slice(0, 10)}.tar`;
}
