import { z } from 'zod';

export const registryIdInput = z.object({ registryId: z.string().uuid('Choose a connected registry') });

export const repositoryInput = registryIdInput.extend({
  repository: z.string().trim().min(1, 'Enter a repository, e.g. demo/macos').max(255),
});
