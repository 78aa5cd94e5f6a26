// Two rule sets in one repo:
// - n8n's community-node rules (the config `n8n-node lint` uses, from @n8n/node-cli) on what n8n
//   installs: nodes/, credentials/ and package.json. `n8n.strict` is false in package.json, so
//   this file may differ from the n8n template (strict `n8n-node lint` would reject it and lint
//   every .ts file in the repo); `npm run lint` runs plain `eslint .` with this file.
// - typescript-eslint's recommended rules on the engine, the tests and the benchmarks.
import { config as n8nCommunityConfig } from '@n8n/node-cli/eslint';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const N8N_SOURCES = ['nodes/**/*.ts', 'credentials/**/*.ts'];

// The n8n config targets every `**/*.ts` file (it assumes the repo is only a node package);
// narrow those blocks to the node sources. Its package.json and ./nodes, ./credentials blocks
// are already scoped and are kept as they are.
const n8nScoped = n8nCommunityConfig.map((block) =>
	block.files?.includes('**/*.ts') ? { ...block, files: N8N_SOURCES } : block,
);

// Node's own globals, read from the runtime that lints (Node 24, as the engine requires),
// instead of adding the `globals` package as a devDependency. `__`-names are tslib helpers that
// the lint tooling itself installs on globalThis, not Node's.
const nodeGlobals = Object.fromEntries(
	Object.getOwnPropertyNames(globalThis)
		.filter((name) => !name.startsWith('__'))
		.map((name) => [name, 'readonly']),
);

export default defineConfig(
	globalIgnores(['dist/', 'engine/dist/', '**/node_modules/']),
	n8nScoped,
	{
		files: ['engine/src/**/*.ts', 'test/**/*.ts', 'bench/**/*.{ts,mjs}', 'scripts/**/*.ts'],
		extends: [tseslint.configs.recommended],
		languageOptions: {
			ecmaVersion: 2024,
			sourceType: 'module',
			globals: nodeGlobals,
		},
		// `const { dropped, ...kept } = row` is how a row sheds columns without `delete` (which
		// turns V8 objects slow): the dropped names are the point, not an oversight.
		rules: { '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }] },
	},
	{
		// The dashboard (engine/ui): browser code, type-checked by its own tsconfig (DOM, Preact JSX).
		files: ['engine/ui/**/*.{ts,tsx}'],
		extends: [tseslint.configs.recommended],
		languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
	},
	{
		// Tests read arbitrary JSON answers; typing every response body would only add noise.
		files: ['test/**/*.ts'],
		rules: { '@typescript-eslint/no-explicit-any': 'off' },
	},
);
