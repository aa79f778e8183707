import { authedProcedure } from '../../trpc.ts';
import { imageRegistries } from '../../services/images/index.ts';

/** Connected registries with how many repositories each lists (or why it lists none). */
export const imageRegistriesProcedure = authedProcedure.query(({ ctx }) => imageRegistries(ctx.deps));
