import { router } from '../../trpc.ts';
import { projectByIdProcedure } from './by-id.ts';
import { createProjectProcedure } from './create.ts';
import { listProjectsProcedure } from './list.ts';
import { projectRolloutFlowProcedure } from './rollout-flow.ts';
import { projectRolloutProcedure } from './rollout.ts';

export const projectsRouter = router({ list: listProjectsProcedure, byId: projectByIdProcedure, create: createProjectProcedure, rollout: projectRolloutProcedure, rolloutFlow: projectRolloutFlowProcedure });
