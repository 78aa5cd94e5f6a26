import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The reliability suite (`npm run test:reliability`): the engine under the ordinary accidents of a
 * deployment — killed mid-load, its database restarted, poison answers, garbage requests. Each file
 * prints its figures. Files run one at a time: they load the machine on purpose and some stop a
 * PostgreSQL they started themselves.
 */
export default defineConfig({
	resolve: {
		alias: [
			{
				find: /^n8n-workflow$/,
				replacement: fileURLToPath(new URL('../../node_modules/n8n-workflow/dist/cjs/index.js', import.meta.url)),
			},
		],
	},
	test: {
		include: ['test/reliability/**/*.reliability.test.ts'],
		globalSetup: ['test/setup/database.ts'],
		testTimeout: 300_000,
		hookTimeout: 120_000,
		maxWorkers: 1,
		fileParallelism: false,
	},
});
