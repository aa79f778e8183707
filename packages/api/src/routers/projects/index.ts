import { router } from '../../trpc.ts';
import { createProjectProcedure } from './create.ts';
import { listProjectsProcedure } from './list.ts';
import { projectRolloutProcedure } from './rollout.ts';

export const projectsRouter = router({ list: listProjectsProcedure, create: createProjectProcedure, rollout: projectRolloutProcedure });
