import { router } from '../../trpc.ts';
import { checkRegistryProcedure } from './check.ts';
import { createRegistryProcedure } from './create.ts';
import { listRegistriesProcedure } from './list.ts';
import { testRegistryProcedure } from './test.ts';

export const registriesRouter = router({
  list: listRegistriesProcedure,
  create: createRegistryProcedure,
  test: testRegistryProcedure,
  check: checkRegistryProcedure,
});
