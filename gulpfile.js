// Copies node and credential assets (icons, codex `*.node.json` files) next to the compiled
// JavaScript in dist/, keeping their paths, so `file:` icon references resolve after `tsc`.
const { src, dest } = require('gulp');

const ASSET_GLOBS = ['nodes/**/*.{png,svg,json}', 'credentials/**/*.{png,svg}'];

function copyAssets() {
	// encoding: false keeps PNGs byte-exact (gulp 5 reads files as UTF-8 by default);
	// allowEmpty: true lets the task succeed while a folder holds no assets yet.
	return src(ASSET_GLOBS, { base: '.', encoding: false, allowEmpty: true }).pipe(dest('dist'));
}

exports['build:assets'] = copyAssets;
