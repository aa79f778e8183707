import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { holdersSorts, imageHolders } from '../../services/images/holders.ts';

export const maxHoldersPage = 100;

const digest = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,256}$/, 'Give a digest such as sha256:…');

export const imageHoldersInput = z.object({
  /** The image's digest first, then an index's manifest digests (at most 32 platforms are listed). */
  digests: z.array(digest).min(1).max(33),
  search: z.string().trim().max(100).optional(),
  sort: z.enum(holdersSorts).default('name'),
  direction: z.enum(['asc', 'desc']).default('asc'),
  offset: z.number().int().min(0).max(1_000_000).default(0),
  limit: z.number().int().min(1).max(maxHoldersPage).default(50),
});

/** A page of the nodes holding an image, with how many hold it in all. */
export const imageHoldersProcedure = authedProcedure.input(imageHoldersInput).query(({ ctx, input }) => imageHolders(ctx.deps, input));
