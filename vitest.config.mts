import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts'],
		exclude: ['test/e2e/**', 'node_modules/**'],
		globalSetup: ['test/setup/database.ts'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
		// Files run in parallel, each in its own schema; two cores do not gain from more.
		maxWorkers: 2,
	},
});
