import { router } from '../../trpc.ts';
import { checkRegistryProcedure } from './check.ts';
import { createRegistryProcedure } from './create.ts';
import { deleteRegistryProcedure } from './delete.ts';
import { listRegistriesProcedure } from './list.ts';
import { mirrorsRouter } from './mirrors.ts';
import { setImmutableTagsProcedure } from './set-immutable-tags.ts';
import { tagPolicyProcedure } from './tag-policy.ts';
import { testRegistryProcedure } from './test.ts';
import { updateRegistryProcedure } from './update.ts';

export const registriesRouter = router({
  list: listRegistriesProcedure,
  create: createRegistryProcedure,
  test: testRegistryProcedure,
  check: checkRegistryProcedure,
  setImmutableTags: setImmutableTagsProcedure,
  tagPolicy: tagPolicyProcedure,
  mirrors: mirrorsRouter,
  update: updateRegistryProcedure,
  delete: deleteRegistryProcedure,
});
