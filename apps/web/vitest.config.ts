import { defineProject } from 'vitest/config';
import { projectTestOptions } from '../../vitest.shared.ts';

export default defineProject({ test: { name: 'web', ...projectTestOptions } });
