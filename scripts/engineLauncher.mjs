// The engine's launcher line (`#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --flags…` at the top of
// engine/dist/main.js) read as the benchmark and the end-to-end harness need it: the environment it
// sets and node's flags, so that both start the engine exactly as the task-engine command does.
import { readFileSync } from 'node:fs';

/**
 * @param {string} main the path of the engine's main.js
 * @returns {{ env: Record<string, string>, flags: string[] }}
 */
export function engineLauncher(main) {
	const first = readFileSync(main, 'utf8').split('\n', 1)[0];
	const words = /^#!\S*\benv -S (.*)$/.exec(first)?.[1].trim().split(/\s+/) ?? [];
	const at = words.findIndex((word) => word === 'node');
	if (at < 0) return { env: {}, flags: [] };
	const env = Object.fromEntries(words.slice(0, at).map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]));
	return { env, flags: words.slice(at + 1) };
}
