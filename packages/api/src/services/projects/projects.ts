import type { Prisma } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import { nameLimits } from '../../names.ts';
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

/** Project names: what the form says and the server checks. */
export const projectNameMax = nameLimits.project;

export function checkProjectName(text: string): string {
  const name = text.trim();
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,${projectNameMax - 1}}$`).test(name)) {
    throw new AppError('BAD_REQUEST', `Project names are 1-${projectNameMax} letters, digits, spaces, ".", "_" or "-", starting with a letter or digit.`);
  }
  return name;
}

/** "iOS CI" and "ios ci" are one name: refuses a name another project holds in any case. */
export async function assertProjectNameFree(db: Pick<ServiceDeps['db'], 'project'>, name: string, exceptId?: string): Promise<void> {
  // The column is citext: equality ignores case.
  const taken = await db.project.findFirst({ where: { name, ...(exceptId ? { NOT: { id: exceptId } } : {}) }, select: { name: true } });
  if (taken) throw nameTaken('project', name, taken.name);
}

export async function createProject(
  deps: ServiceDeps,
  actor: Actor,
  input: { name: string; teamId: string; nodeSelector: Labels },
): Promise<{ id: string }> {
  const name = checkProjectName(input.name);
  const team = await deps.db.team.findUnique({ where: { id: input.teamId } });
  if (!team) throw new AppError('NOT_FOUND', 'No such team.');
  await assertProjectNameFree(deps.db, name);
  const project = await deps.db
    .$transaction(async (tx) => {
      const created = await tx.project.create({ data: { name, teamId: team.id, nodeSelector: input.nodeSelector } });
      await recordAudit(tx, actor, 'project.create', { type: 'project', id: created.id }, undefined, created);
      return created;
    })
    .catch(async (error: unknown) => {
      // Created by someone else between the check and the insert: say so by name.
      if (isUniqueViolation(error)) await assertProjectNameFree(deps.db, name);
      throw error;
    });
  await deps.events.publish({ type: 'project.updated', projectId: project.id });
  return { id: project.id };
}
