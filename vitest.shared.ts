// Test options every vitest project repeats: projects do not inherit the root config's `test`
// options. Real services and real processes need more than vitest's 5 s default on a loaded
// 2-core CI machine; a hung test still fails, just later.
export const projectTestOptions = { testTimeout: 60_000, hookTimeout: 120_000 } as const;
