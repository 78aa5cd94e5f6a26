import { defineConfig } from 'vitest/config';

/**
 * `npm run pictures`: the README's pictures of the nodes in a real n8n editor, and the checks that
 * fail when what they show regresses (scripts/pictures/n8nEditor.pictures.ts). Not part of CI's
 * run: it starts a real n8n, the engine and Chromium, and rewrites docs/images/nodes/.
 * The same one-off setup as the end-to-end tests: the tests' PostgreSQL, n8n installed in the cache,
 * `npm run build` (E2E_SKIP_BUILD=1 skips it).
 */
export default defineConfig({
	test: {
		include: ['scripts/pictures/**/*.pictures.ts'],
		globalSetup: ['test/setup/database.ts', 'test/e2e/setup.ts'],
		hookTimeout: 900_000,
		// A step opens up to 15 workflows (the canvas step: one per example, 6-15 s each in n8n while the
		// machine is busy), so 120 s was too short for it; every wait inside a step has its own bound.
		testTimeout: 600_000,
		maxWorkers: 1,
		fileParallelism: false,
		// The steps share one editor page and build on each other: run them in order, stop at none.
		sequence: { concurrent: false },
	},
});
