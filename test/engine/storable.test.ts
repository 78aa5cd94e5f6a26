import { describe, expect, it } from 'vitest';
import { storableJson, storableText } from '../../engine/src/db/storable.js';

/** What is kept of a handler's answer that PostgreSQL could not store as it is. */
describe('storable text and JSON', () => {
	it('replaces NULs and lone surrogates with U+FFFD and keeps paired surrogates', () => {
		expect(storableText('a\u0000b')).toBe('a\uFFFDb');
		expect(storableText('x\ud800y\udc00z')).toBe('x\uFFFDy\uFFFDz');
		expect(storableText('emoji \ud83d\ude00 ok')).toBe('emoji \ud83d\ude00 ok');
		expect(storableText(null)).toBeNull();
	});

	it('cleans strings and keys at any depth, and returns clean values untouched', () => {
		const clean = { a: [1, 'two', { three: true }] };
		expect(storableJson(clean)).toBe(clean);
		expect(storableJson({ 'k\u0000': ['v\ud800', { deep: 'x\u0000' }] })).toEqual({ 'k\uFFFD': ['v\uFFFD', { deep: 'x\uFFFD' }] });
	});

	it('refuses JSON nested deeper than the limit instead of recursing into it', () => {
		let deep: unknown = 'leaf';
		for (let i = 0; i < 20_000; i++) deep = [deep];
		expect(storableJson(deep)).toBeUndefined();
		let ok: unknown = 'leaf';
		for (let i = 0; i < 100; i++) ok = [ok];
		expect(storableJson(ok)).toBe(ok);
	});
});
