import { authedProcedure } from '../../trpc.ts';
import { listRegistries } from '../../services/registries/registries.ts';

/** Registries as a browser may see them: never their secrets. */
export const listRegistriesProcedure = authedProcedure.query(({ ctx }) => listRegistries(ctx.deps));
