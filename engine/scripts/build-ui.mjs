// Builds the dashboard (engine/ui) into engine/dist/ui: one script, one style sheet, the page, and
// the licence of the library bundled into it. Everything the page needs at run time is in there
// (no CDN, no web fonts). Type-checking is `tsc -p ui/tsconfig.json`, run before this by `npm run build`.
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'ui');
const out = path.join(root, 'dist/ui');

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
	entryPoints: { app: path.join(source, 'src/main.tsx') },
	outdir: out,
	bundle: true,
	minify: true,
	format: 'esm',
	target: 'es2022',
	jsx: 'automatic',
	jsxImportSource: 'preact',
	legalComments: 'none',
	logLevel: 'warning',
});
await copyFile(path.join(source, 'index.html'), path.join(out, 'index.html'));
await copyFile(path.join(source, 'favicon.svg'), path.join(out, 'favicon.svg'));
// preact resolves to <package>/dist/preact.mjs; its licence sits at the package's top.
const preactLicense = await readFile(path.join(path.dirname(fileURLToPath(import.meta.resolve('preact'))), '../LICENSE'), 'utf8');
await writeFile(path.join(out, 'licenses.txt'), `The dashboard bundles Preact (https://preactjs.com):\n\n${preactLicense}`);

// The size a browser downloads, for the README and the report.
const sizes = [];
for (const name of ['index.html', 'app.js', 'app.css']) {
	const body = await readFile(path.join(out, name));
	sizes.push({ name, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length });
}
const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
process.stdout.write(`dashboard: ${sizes.map((s) => `${s.name} ${(s.bytes / 1024).toFixed(1)} KiB (${(s.gzip / 1024).toFixed(1)} gzip)`).join(', ')}; ${(total / 1024).toFixed(1)} KiB gzip in all\n`);
