import { defineConfig } from 'vitest/config';

/**
 * The dashboard in a real browser (`npm run test:browser`): Debian's Chromium driven by
 * playwright-core, against a real engine on the test database. One file at a time: each starts a
 * browser, and two cores do not gain from two.
 */
export default defineConfig({
	test: {
		include: ['test/browser/**/*.browser.test.ts'],
		globalSetup: ['test/setup/database.ts'],
		testTimeout: 60_000,
		hookTimeout: 120_000,
		maxWorkers: 1,
		fileParallelism: false,
	},
});
