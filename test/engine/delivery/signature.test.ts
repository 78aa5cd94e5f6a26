import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import {
	deliveryHeaders,
	generateSecret,
	signPayload,
	verifySignature,
} from '../../../engine/src/delivery/signature.js';

/** The shared vectors: expected signatures come from the standardwebhooks package, not our code. */
interface Vector {
	name: string;
	secret: string | string[];
	id: string;
	timestamp: number;
	body: string;
	signature: string;
}
const { vectors } = JSON.parse(
	readFileSync(new URL('../../vectors/standard-webhooks.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] };
const secretsOf = (v: Vector): string[] => (Array.isArray(v.secret) ? v.secret : [v.secret]);
const at = (seconds: number) => new Date(seconds * 1000);
const single = vectors.find((v) => v.name === 'task-delivery')!;
const rotation = vectors.find((v) => v.name === 'secret-rotation')!;
const messageOf = (v: Vector) => ({ id: v.id, timestamp: String(v.timestamp), signature: v.signature, body: v.body });

describe('shared Standard Webhooks vectors', () => {
	it('covers rotation and a unicode body', () => {
		expect(vectors.length).toBeGreaterThanOrEqual(4);
		expect(secretsOf(rotation)).toHaveLength(2);
		expect(vectors.some((v) => /[^\x00-\x7f]/.test(v.body))).toBe(true);
	});

	it.each(vectors.map((v) => [v.name, v] as const))('signPayload reproduces %s', (_name, v) => {
		expect(signPayload(secretsOf(v), v.id, v.timestamp, v.body)).toBe(v.signature);
	});

	it.each(vectors.map((v) => [v.name, v] as const))('verifySignature accepts %s', (_name, v) => {
		expect(verifySignature(secretsOf(v), messageOf(v), { now: at(v.timestamp) })).toEqual({ ok: true });
	});
});

describe('verifySignature', () => {
	const secrets = secretsOf(single);
	const now = at(single.timestamp);

	it('rejects a changed body, even by whitespace', () => {
		for (const body of [single.body.replace('42', '43'), `${single.body} `]) {
			expect(verifySignature(secrets, { ...messageOf(single), body }, { now })).toEqual({ ok: false, reason: 'bad_signature' });
		}
	});

	it('rejects a wrong secret and fails closed without secrets', () => {
		expect(verifySignature([generateSecret()], messageOf(single), { now })).toEqual({ ok: false, reason: 'bad_signature' });
		expect(verifySignature([], messageOf(single), { now })).toEqual({ ok: false, reason: 'bad_signature' });
	});

	it('accepts 300 s either way and rejects 301 s old or ahead', () => {
		for (const skew of [-300, 300]) {
			expect(verifySignature(secrets, messageOf(single), { now: at(single.timestamp + skew) }).ok).toBe(true);
		}
		for (const skew of [-301, 301]) {
			expect(verifySignature(secrets, messageOf(single), { now: at(single.timestamp + skew) })).toEqual({
				ok: false,
				reason: 'timestamp_out_of_window',
			});
		}
		expect(verifySignature(secrets, messageOf(single), { now: at(single.timestamp + 600), toleranceSeconds: 600 }).ok).toBe(true);
	});

	it('rejects malformed headers', () => {
		const sig = single.signature;
		const bad = [
			{ signature: '' },
			{ signature: '   ' },
			{ signature: sig.slice(3) },
			{ signature: `v1,${sig.slice(3)},extra` },
			{ timestamp: '' },
			{ timestamp: 'yesterday' },
			{ timestamp: '-1' },
			{ timestamp: '1772366400.5' },
			{ id: '' },
		];
		for (const change of bad) {
			expect(verifySignature(secrets, { ...messageOf(single), ...change }, { now }), JSON.stringify(change)).toEqual({
				ok: false,
				reason: 'malformed',
			});
		}
	});

	it('ignores signatures of other versions and tolerates extra spaces', () => {
		const [, value] = single.signature.split(',');
		expect(verifySignature(secrets, { ...messageOf(single), signature: `v1a,${value}` }, { now })).toEqual({
			ok: false,
			reason: 'bad_signature',
		});
		expect(verifySignature(secrets, { ...messageOf(single), signature: `v2,abc  ${single.signature} ` }, { now })).toEqual({ ok: true });
	});

	it('accepts a rotating header with either secret alone', () => {
		const now = at(rotation.timestamp);
		for (const secret of secretsOf(rotation)) {
			expect(verifySignature([secret], messageOf(rotation), { now })).toEqual({ ok: true });
		}
		// and a receiver that already holds both secrets accepts a header signed with only one
		const onlyNew = signPayload([secretsOf(rotation)[1]!], rotation.id, rotation.timestamp, rotation.body);
		expect(verifySignature(secretsOf(rotation), { ...messageOf(rotation), signature: onlyNew }, { now })).toEqual({ ok: true });
	});
});

describe('secrets', () => {
	it('generates whsec_ + base64 of 32 bytes, different every time', () => {
		const secret = generateSecret();
		expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
		expect(generateSecret()).not.toBe(secret);
	});

	it('refuses secrets without the whsec_ prefix or with broken base64', () => {
		expect(() => signPayload(['c2VjcmV0'], 'id', 1, '{}')).toThrow(/whsec_/);
		expect(() => signPayload(['whsec_'], 'id', 1, '{}')).toThrow(/base64/);
		expect(() => signPayload(['whsec_not base64!'], 'id', 1, '{}')).toThrow(/base64/);
		expect(() => signPayload([], 'id', 1, '{}')).toThrow();
	});
});

describe('deliveryHeaders', () => {
	const secret = generateSecret();
	const body = JSON.stringify({ id: 'tsk_1', queue: 'emails', name: 'welcome', payload: { text: 'héllo ✓' }, attempt: 2 });
	const timestampSeconds = Math.floor(Date.now() / 1000);
	const headers = deliveryHeaders({ id: 'tsk_1', timestampSeconds, body, secrets: [secret], attempt: 2, queue: 'emails' });

	it('carries the signed headers and the task headers', () => {
		expect(headers).toEqual({
			'content-type': 'application/json',
			'webhook-id': 'tsk_1',
			'webhook-timestamp': String(timestampSeconds),
			'webhook-signature': signPayload([secret], 'tsk_1', timestampSeconds, body),
			'x-task-attempt': '2',
			'x-task-queue': 'emails',
			'user-agent': 'background-tasks-engine/0.1',
		});
	});

	it('is accepted by the independent standardwebhooks verifier', () => {
		expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
	});

	it('is accepted by standardwebhooks with either secret while rotating', () => {
		const next = generateSecret();
		const rotating = deliveryHeaders({ id: 'tsk_1', timestampSeconds, body, secrets: [next, secret], attempt: 1, queue: 'emails' });
		expect(rotating['webhook-signature']?.split(' ')).toHaveLength(2);
		for (const s of [secret, next]) expect(new Webhook(s).verify(body, rotating)).toEqual(JSON.parse(body));
	});

	it('is rejected by standardwebhooks for another secret or body', () => {
		expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow(/signature/i);
		expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow(/signature/i);
	});
});
