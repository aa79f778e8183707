// User accounts as admins manage them: create, change role, disable/enable, reset password.
// Password hashes never leave this module: every read selects the columns a view needs.
// Changes that could leave nobody able to administer the system are refused (last-admin guard).
import { Prisma, type Role } from '@cider/db';
import { hashPassword } from '../../crypto.ts';
import { AppError } from '../../errors.ts';
import { revokeUserApiTokens } from './api-tokens.ts';
import { recordAudit } from '../audit/record.ts';
import type { Actor, ServiceDeps } from '../deps.ts';

export const minPasswordLength = 10;

/** What an admin sees of a user: never the password hash. */
export interface UserView {
  id: string;
  email: string;
  name: string;
  role: Role;
  disabled: boolean;
  disabledAt: Date | null;
  createdAt: Date;
  teams: { teamId: string; name: string; role: Role }[];
}

const userViewSelect = {
  id: true,
  email: true,
  name: true,
  role: true,
  disabledAt: true,
  createdAt: true,
  memberships: { select: { teamId: true, role: true, team: { select: { name: true } } }, orderBy: { team: { name: 'asc' } } },
} satisfies Prisma.UserSelect;

type UserRow = Prisma.UserGetPayload<{ select: typeof userViewSelect }>;
type Tx = Prisma.TransactionClient;

function userView(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabledAt !== null,
    disabledAt: row.disabledAt,
    createdAt: row.createdAt,
    teams: row.memberships.map((m) => ({ teamId: m.teamId, name: m.team.name, role: m.role })),
  };
}

function checkPassword(password: string): void {
  if (password.length < minPasswordLength) throw new AppError('BAD_REQUEST', `Passwords need at least ${minPasswordLength} characters.`);
}

async function findUser(tx: Tx, userId: string): Promise<UserRow> {
  const row = await tx.user.findUnique({ where: { id: userId }, select: userViewSelect });
  if (!row) throw new AppError('NOT_FOUND', 'No such user.');
  return row;
}

/**
 * Refuses a change that would take away the last active admin. The admin rows are locked first,
 * so two admins demoting each other at the same moment can't both succeed.
 */
async function keepAnActiveAdmin(tx: Tx, target: UserRow, actor: Actor, change: 'demote' | 'disable'): Promise<void> {
  if (target.role !== 'admin' || target.disabledAt) return;
  const admins = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM users WHERE role = 'admin' AND disabled_at IS NULL FOR UPDATE`;
  if (admins.some((a) => a.id !== target.id)) return;
  const who = target.id === actor.userId ? 'You are' : `${target.email} is`;
  const verb = change === 'demote' ? 'change the role' : 'disable the account';
  throw new AppError('CONFLICT', `${who} the last active admin, so you can't ${verb}: make another user an admin first.`);
}

export async function listUsers(deps: ServiceDeps): Promise<UserView[]> {
  const rows = await deps.db.user.findMany({ select: userViewSelect, orderBy: { email: 'asc' } });
  return rows.map(userView);
}

export async function addUser(
  deps: ServiceDeps,
  actor: Actor,
  input: { email: string; name: string; password: string; role: Role },
): Promise<UserView> {
  checkPassword(input.password);
  const email = input.email.trim().toLowerCase();
  if (await deps.db.user.findUnique({ where: { email }, select: { id: true } })) throw new AppError('CONFLICT', `A user with email ${email} already exists.`);
  const passwordHash = await hashPassword(input.password);
  try {
    return await deps.db.$transaction(async (tx) => {
      const created = await tx.user.create({ data: { email, name: input.name.trim(), role: input.role, passwordHash }, select: userViewSelect });
      const view = userView(created);
      await recordAudit(tx, actor, 'user.create', { type: 'user', id: view.id }, undefined, view);
      return view;
    });
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw new AppError('CONFLICT', `A user with email ${email} already exists.`);
    throw error;
  }
}

export async function setUserRole(deps: ServiceDeps, actor: Actor, input: { userId: string; role: Role }): Promise<UserView> {
  return deps.db.$transaction(async (tx) => {
    const before = await findUser(tx, input.userId);
    if (before.role === input.role) return userView(before);
    if (input.role !== 'admin') await keepAnActiveAdmin(tx, before, actor, 'demote');
    const after = await tx.user.update({ where: { id: before.id }, data: { role: input.role }, select: userViewSelect });
    await recordAudit(tx, actor, 'user.role', { type: 'user', id: before.id }, userView(before), userView(after));
    return userView(after);
  });
}

/** Disabling signs the user out everywhere at once; their API tokens stop working too. */
export async function setUserDisabled(deps: ServiceDeps, actor: Actor, input: { userId: string; disabled: boolean }): Promise<UserView> {
  return deps.db.$transaction(async (tx) => {
    const before = await findUser(tx, input.userId);
    if ((before.disabledAt !== null) === input.disabled) return userView(before);
    if (input.disabled) await keepAnActiveAdmin(tx, before, actor, 'disable');
    const after = await tx.user.update({ where: { id: before.id }, data: { disabledAt: input.disabled ? new Date() : null }, select: userViewSelect });
    if (input.disabled) await tx.session.deleteMany({ where: { userId: before.id } });
    await recordAudit(tx, actor, input.disabled ? 'user.disable' : 'user.enable', { type: 'user', id: before.id }, userView(before), userView(after));
    return userView(after);
  });
}

/**
 * An admin sets a new password. Whoever may have known the old one may also have made sessions
 * or API tokens with it: every session ends and every API token is revoked (each audited), so
 * only the new password gets in from now on.
 */
export async function resetUserPassword(
  deps: ServiceDeps,
  actor: Actor,
  input: { userId: string; password: string },
): Promise<{ sessionsEnded: number; apiTokensRevoked: number }> {
  checkPassword(input.password);
  const passwordHash = await hashPassword(input.password);
  return deps.db.$transaction(async (tx) => {
    const user = await findUser(tx, input.userId);
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    const { count } = await tx.session.deleteMany({ where: { userId: user.id } });
    const apiTokensRevoked = await revokeUserApiTokens(tx, actor, user.id);
    // Called apiKeys here: the audit log redacts any field whose name says "token".
    await recordAudit(tx, actor, 'user.reset-password', { type: 'user', id: user.id }, undefined, { email: user.email, sessionsEnded: count, apiKeysRevoked: apiTokensRevoked });
    return { sessionsEnded: count, apiTokensRevoked };
  });
}
