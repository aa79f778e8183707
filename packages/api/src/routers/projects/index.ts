import { router } from '../../trpc.ts';
import { projectByIdProcedure } from './by-id.ts';
import { createProjectProcedure } from './create.ts';
import { deleteProjectProcedure } from './delete.ts';
import { previewSelectorProcedure } from './preview-selector.ts';
import { updateProjectProcedure } from './update.ts';
import { listProjectsProcedure } from './list.ts';
import { projectRolloutFlowProcedure } from './rollout-flow.ts';
import { projectRolloutProcedure } from './rollout.ts';

export const projectsRouter = router({ list: listProjectsProcedure, byId: projectByIdProcedure, create: createProjectProcedure, rollout: projectRolloutProcedure, rolloutFlow: projectRolloutFlowProcedure, update: updateProjectProcedure, delete: deleteProjectProcedure, previewSelector: previewSelectorProcedure });
