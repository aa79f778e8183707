import { z } from 'zod';
import { roleInput } from '../users/input.ts';
import { nameLimits, tooLong } from '../../names.ts';

export const teamNameInput = z.string().trim().min(1, 'Give the team a name').max(nameLimits.team, tooLong('team', nameLimits.team));

export const membershipInput = z.object({ teamId: z.uuid(), userId: z.uuid('Choose a user') });
export const membershipRoleInput = membershipInput.extend({ role: roleInput.default('member') });
