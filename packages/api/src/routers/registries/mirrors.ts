// A registry's mirrors (services/registries/mirrors.ts): anyone signed in sees them (never their
// credentials, only whether they have some); only admins add, change or remove them.
import { z } from 'zod';
import { addMirror, listMirrors, removeMirror, updateMirror } from '../../services/registries/mirrors.ts';
import { adminProcedure, authedProcedure, router } from '../../trpc.ts';

const host = z.string().trim().min(1, 'Enter the mirror host, e.g. mirror.site-a.example or 10.0.0.5:5000').max(300);
const username = z.string().trim().min(1).max(300);
const password = z.string().min(1).max(4096);

export const mirrorInput = z
  .object({
    registryId: z.uuid({ error: 'No such registry' }),
    site: z
      .string()
      .trim()
      .min(1, 'Give the site (the value of the nodes\' "site" label), or * for every site')
      .max(255),
    host,
    plainHttp: z.boolean().default(false),
    username: username.optional(),
    password: password.optional(),
  })
  .refine((v) => Boolean(v.username) === Boolean(v.password), { message: 'Give both a username and a password, or neither', path: ['password'] });

export const mirrorUpdateInput = z.object({
  id: z.uuid({ error: 'No such mirror' }),
  host: host.optional(),
  plainHttp: z.boolean().optional(),
  credentials: z.object({ username, password }).nullable().optional(),
});

export const mirrorsRouter = router({
  list: authedProcedure.input(z.object({ registryId: z.uuid({ error: 'No such registry' }).optional() }).default({})).query(({ ctx, input }) => listMirrors(ctx.deps, input)),
  add: adminProcedure.input(mirrorInput).mutation(({ ctx, input }) => addMirror(ctx.deps, ctx.actor, input)),
  update: adminProcedure.input(mirrorUpdateInput).mutation(({ ctx, input }) => updateMirror(ctx.deps, ctx.actor, input)),
  remove: adminProcedure.input(z.object({ id: z.uuid({ error: 'No such mirror' }) })).mutation(({ ctx, input }) => removeMirror(ctx.deps, ctx.actor, input)),
});
