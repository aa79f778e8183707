import { z } from 'zod';
import { nameLimits, tooLong } from '../../names.ts';

const registryFields = z.object({
  name: z.string().trim().min(1, 'Give the registry a name').max(nameLimits.registry, tooLong('registry', nameLimits.registry)),
  host: z.string().trim().min(1, 'Enter the registry host, e.g. registry.example.com or 127.0.0.1:5000').max(300),
  plainHttp: z.boolean().default(false),
  authKind: z.enum(['none', 'basic']).default('none'),
  username: z.string().trim().max(300).optional(),
  password: z.string().max(4096).optional(),
  immutableTags: z.boolean().default(false),
});

export const registryInput = registryFields.refine((v) => v.authKind === 'none' || (v.username && v.password), {
  message: 'Basic authentication needs a username and a password',
  path: ['password'],
});

/** An edit: a blank password keeps the stored one (which is never sent back). */
export const registryUpdateInput = registryFields.omit({ immutableTags: true }).extend({ id: z.uuid({ error: 'No such registry' }) });
