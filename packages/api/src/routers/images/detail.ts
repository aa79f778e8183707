import { z } from 'zod';
import { authedProcedure } from '../../trpc.ts';
import { imageDetail } from '../../services/images/index.ts';
import { repositoryInput } from './input.ts';

export const imageDetailInput = repositoryInput.extend({
  /** A tag (`15.2`) or a manifest digest (`sha256:...`). */
  reference: z.string().trim().min(1, 'Give a tag or a digest').max(200),
});

/** One tag or digest laid out in full: manifest, config fields, layers or platforms, holders and pins. */
export const imageDetailProcedure = authedProcedure.input(imageDetailInput).query(({ ctx, input }) => imageDetail(ctx.deps, input));
