// Who may do what, as pure functions the server enforces and the dashboard uses to hide what a
// user may not do (hiding is only courtesy; every procedure checks again).
import type { Role } from '@cider/db';

export interface PermissionSubject {
  role: Role;
  teams: { teamId: string; role: Role }[];
}

const rank: Record<Role, number> = { viewer: 0, member: 1, admin: 2 };

/** Pins in a team's projects: admins anywhere; members where their membership is member or admin. */
export function canEditTeam(user: PermissionSubject, teamId: string): boolean {
  if (user.role === 'admin') return true;
  if (rank[user.role] < rank.member) return false;
  return user.teams.some((m) => m.teamId === teamId && rank[m.role] >= rank.member);
}

/** Node identity (revoke, rotate its secret, allow its replacement): admins only. */
export function canManageNodes(user: Pick<PermissionSubject, 'role'>): boolean {
  return user.role === 'admin';
}
