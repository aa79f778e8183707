import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import { isUniqueViolation, nameTaken } from '../names.ts';
import type { Actor, ServiceDeps } from '../deps.ts';

export type Labels = Record<string, string>;

/** `pool=ios-ci, arch=arm64` -> {pool: "ios-ci", arch: "arm64"}; empty means every node. */
export function parseSelector(text: string): Labels {
  const labels: Labels = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9._/-]*)\s*=\s*([A-Za-z0-9._-]*)$/.exec(part);
    if (!match) throw new AppError('BAD_REQUEST', `"${part}" is not a label selector term: use key=value, separated by commas (e.g. pool=ios-ci)`);
    labels[match[1]!] = match[2]!;
  }
  return labels;
}

export function formatSelector(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function asLabels(value: Prisma.JsonValue | null | undefined): Labels {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** A node serves a project when its labels contain every term of the project's selector. */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

export async function createProject(
  deps: ServiceDeps,
  actor: Actor,
  input: { name: string; teamId: string; nodeSelector: Labels },
): Promise<{ id: string }> {
  const name = input.name.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(name)) {
    throw new AppError('BAD_REQUEST', 'Project names are 1-63 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit.');
  }
  const team = await deps.db.team.findUnique({ where: { id: input.teamId } });
  if (!team) throw new AppError('NOT_FOUND', 'No such team.');
  // Found in any case (the column is citext): "ios ci" is taken by "iOS CI".
  const taken = async () => nameTaken('project', name, (await deps.db.project.findUnique({ where: { name }, select: { name: true } }))?.name);
  if (await deps.db.project.findUnique({ where: { name } })) throw await taken();
  const project = await deps.db
    .$transaction(async (tx) => {
      const created = await tx.project.create({ data: { name, teamId: team.id, nodeSelector: input.nodeSelector } });
      await recordAudit(tx, actor, 'project.create', { type: 'project', id: created.id }, undefined, created);
      return created;
    })
    .catch(async (error: unknown) => {
      // Created by someone else between the check and the insert.
      throw isUniqueViolation(error) ? await taken() : error;
    });
  await deps.events.publish({ type: 'project.updated', projectId: project.id });
  return { id: project.id };
}
