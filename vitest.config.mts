import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
	resolve: {
		// n8n-core (loaded by the node tests) requires n8n-workflow's CommonJS build; the tests and
		// the nodes must get that same copy, or there are two NodeApiError classes.
		alias: [
			{
				find: /^n8n-workflow$/,
				replacement: fileURLToPath(new URL('./node_modules/n8n-workflow/dist/cjs/index.js', import.meta.url)),
			},
		],
	},
	test: {
		include: ['test/**/*.test.ts'],
		// End-to-end, reliability and browser suites have their own configs and commands.
		exclude: ['test/e2e/**', 'test/reliability/**', 'test/browser/**', 'node_modules/**'],
		globalSetup: ['test/setup/database.ts'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
		// Files run in parallel, each in its own schema; two cores do not gain from more.
		maxWorkers: 2,
	},
});
