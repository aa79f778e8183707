import { z } from 'zod';
import { minPasswordLength } from '../../services/access/users.ts';

export const roleInput = z.enum(['admin', 'member', 'viewer'], { error: 'Choose a role: admin, member or viewer' });

export const passwordInput = z
  .string()
  .min(minPasswordLength, `Passwords need at least ${minPasswordLength} characters`)
  .max(1024);
