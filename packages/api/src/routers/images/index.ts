import { router } from '../../trpc.ts';
import { imageDetailProcedure } from './detail.ts';
import { pickRepositoriesProcedure, pickTagsProcedure } from './pick.ts';
import { imageHoldersProcedure } from './holders.ts';
import { imageRegistriesProcedure } from './registries.ts';
import { repositoriesProcedure } from './repositories.ts';
import { tagsProcedure } from './tags.ts';

export const imagesRouter = router({
  registries: imageRegistriesProcedure,
  repositories: repositoriesProcedure,
  tags: tagsProcedure,
  detail: imageDetailProcedure,
  pickRepositories: pickRepositoriesProcedure,
  pickTags: pickTagsProcedure,
  holders: imageHoldersProcedure,
});
