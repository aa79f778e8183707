import { router } from '../../trpc.ts';
import { imageDetailProcedure } from './detail.ts';
import { imageHoldersProcedure } from './holders.ts';
import { imageRegistriesProcedure } from './registries.ts';
import { repositoriesProcedure } from './repositories.ts';
import { tagsProcedure } from './tags.ts';

export const imagesRouter = router({
  registries: imageRegistriesProcedure,
  repositories: repositoriesProcedure,
  tags: tagsProcedure,
  detail: imageDetailProcedure,
  holders: imageHoldersProcedure,
});
