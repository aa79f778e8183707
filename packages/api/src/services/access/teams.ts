// Teams and memberships. A team owns projects; its members (membership role member or admin)
// may change pins in them. A team that still owns projects can't be deleted (projects.team is
// onDelete Restrict), and the refusal names the projects.
import { Prisma, type Role } from '@cider/db';
import { AppError } from '../../errors.ts';
import { recordAudit } from '../audit/record.ts';
import { isUniqueViolation, nameTaken } from '../names.ts';
import type { Actor, ServiceDeps } from '../deps.ts';

export interface TeamView {
  id: string;
  name: string;
  createdAt: Date;
  projectCount: number;
  memberCount: number;
}

type Tx = Prisma.TransactionClient;

export function checkTeamName(input: string): string {
  const name = input.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(name)) {
    throw new AppError('BAD_REQUEST', 'Team names are 1-63 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit.');
  }
  return name;
}

/** The refusal for a team name that another team holds, in any case. */
async function teamNameTaken(deps: ServiceDeps, name: string, teamId?: string): Promise<AppError> {
  const existing = await deps.db.team.findFirst({ where: { name, ...(teamId ? { id: { not: teamId } } : {}) }, select: { name: true } });
  return nameTaken('team', name, existing?.name);
}

async function findTeam(tx: Tx, teamId: string) {
  const team = await tx.team.findUnique({ where: { id: teamId } });
  if (!team) throw new AppError('NOT_FOUND', 'No such team.');
  return team;
}

export async function listTeams(deps: ServiceDeps): Promise<TeamView[]> {
  const teams = await deps.db.team.findMany({ orderBy: { name: 'asc' }, include: { _count: { select: { projects: true, memberships: true } } } });
  return teams.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt, projectCount: t._count.projects, memberCount: t._count.memberships }));
}

export async function createTeam(deps: ServiceDeps, actor: Actor, input: { name: string }): Promise<{ id: string; name: string }> {
  const name = checkTeamName(input.name);
  try {
    return await deps.db.$transaction(async (tx) => {
      const team = await tx.team.create({ data: { name } });
      await recordAudit(tx, actor, 'team.create', { type: 'team', id: team.id }, undefined, team);
      return { id: team.id, name: team.name };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw await teamNameTaken(deps, name);
    throw error;
  }
}

export async function renameTeam(deps: ServiceDeps, actor: Actor, input: { teamId: string; name: string }): Promise<{ id: string; name: string }> {
  const name = checkTeamName(input.name);
  try {
    return await deps.db.$transaction(async (tx) => {
      const before = await findTeam(tx, input.teamId);
      if (before.name === name) return { id: before.id, name };
      const after = await tx.team.update({ where: { id: before.id }, data: { name } });
      await recordAudit(tx, actor, 'team.rename', { type: 'team', id: before.id }, before, after);
      return { id: after.id, name: after.name };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw await teamNameTaken(deps, name, input.teamId);
    throw error;
  }
}

export async function deleteTeam(deps: ServiceDeps, actor: Actor, input: { teamId: string }): Promise<void> {
  const refusal = (team: string, projects: string[]) =>
    new AppError(
      'CONFLICT',
      `Team ${team} still owns ${projects.length === 1 ? 'project' : `${projects.length} projects`} ${projects.map((p) => `"${p}"`).join(', ')}; a team that owns projects can't be deleted.`,
    );
  try {
    await deps.db.$transaction(async (tx) => {
      const team = await findTeam(tx, input.teamId);
      const projects = await tx.project.findMany({ where: { teamId: team.id }, select: { name: true }, orderBy: { name: 'asc' } });
      if (projects.length > 0) throw refusal(team.name, projects.map((p) => p.name));
      const members = await tx.membership.findMany({ where: { teamId: team.id }, select: { userId: true, role: true } });
      await tx.team.delete({ where: { id: team.id } });
      await recordAudit(tx, actor, 'team.delete', { type: 'team', id: team.id }, { ...team, members }, undefined);
    });
  } catch (error) {
    // A project created between the check and the delete: the foreign key still refuses.
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003') {
      const team = await deps.db.team.findUnique({ where: { id: input.teamId }, include: { projects: { select: { name: true } } } });
      throw refusal(team?.name ?? 'this team', team?.projects.map((p) => p.name) ?? []);
    }
    throw error;
  }
}

async function membershipTarget(tx: Tx, teamId: string, userId: string) {
  const team = await findTeam(tx, teamId);
  const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true, email: true } });
  if (!user) throw new AppError('NOT_FOUND', 'No such user.');
  return { team, user };
}

export async function addTeamMember(deps: ServiceDeps, actor: Actor, input: { teamId: string; userId: string; role: Role }): Promise<void> {
  await deps.db.$transaction(async (tx) => {
    const { team, user } = await membershipTarget(tx, input.teamId, input.userId);
    const existing = await tx.membership.findUnique({ where: { userId_teamId: { userId: user.id, teamId: team.id } } });
    if (existing) throw new AppError('CONFLICT', `${user.email} is already in team ${team.name} (as ${existing.role}).`);
    await tx.membership.create({ data: { userId: user.id, teamId: team.id, role: input.role } });
    await recordAudit(tx, actor, 'team.member.add', { type: 'team', id: team.id }, undefined, { team: team.name, user: user.email, userId: user.id, role: input.role });
  });
}

export async function setTeamMemberRole(deps: ServiceDeps, actor: Actor, input: { teamId: string; userId: string; role: Role }): Promise<void> {
  await deps.db.$transaction(async (tx) => {
    const { team, user } = await membershipTarget(tx, input.teamId, input.userId);
    const existing = await tx.membership.findUnique({ where: { userId_teamId: { userId: user.id, teamId: team.id } } });
    if (!existing) throw new AppError('NOT_FOUND', `${user.email} is not in team ${team.name}.`);
    if (existing.role === input.role) return;
    await tx.membership.update({ where: { userId_teamId: { userId: user.id, teamId: team.id } }, data: { role: input.role } });
    const who = { team: team.name, user: user.email, userId: user.id };
    await recordAudit(tx, actor, 'team.member.role', { type: 'team', id: team.id }, { ...who, role: existing.role }, { ...who, role: input.role });
  });
}

export async function removeTeamMember(deps: ServiceDeps, actor: Actor, input: { teamId: string; userId: string }): Promise<void> {
  await deps.db.$transaction(async (tx) => {
    const { team, user } = await membershipTarget(tx, input.teamId, input.userId);
    const existing = await tx.membership.findUnique({ where: { userId_teamId: { userId: user.id, teamId: team.id } } });
    if (!existing) throw new AppError('NOT_FOUND', `${user.email} is not in team ${team.name}.`);
    await tx.membership.delete({ where: { userId_teamId: { userId: user.id, teamId: team.id } } });
    await recordAudit(tx, actor, 'team.member.remove', { type: 'team', id: team.id }, { team: team.name, user: user.email, userId: user.id, role: existing.role }, undefined);
  });
}
