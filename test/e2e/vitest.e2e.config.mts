import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests (`npm run test:e2e`): a real n8n and the built engine as separate processes.
 * One file at a time: each starts its own n8n (about 0.9 GB at peak), and scenarios inside a file
 * share it, so they run in order.
 */
export default defineConfig({
	test: {
		include: ['test/e2e/**/*.e2e.test.ts'],
		// database.ts: the tests' PostgreSQL (TEST_DATABASE_URL or embedded); setup.ts: install n8n, build.
		globalSetup: ['test/setup/database.ts', 'test/e2e/setup.ts'],
		// The first run installs n8n (minutes); later runs find it in the cache.
		hookTimeout: 900_000,
		testTimeout: 180_000,
		maxWorkers: 1,
		fileParallelism: false,
	},
});
