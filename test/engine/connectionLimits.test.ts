import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../engine/src/db/pool.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

/**
 * Every database connection of the engine carries limits, so that a stuck statement, a lock wait or
 * a client that vanished inside a transaction cannot hold work (or a queue's advisory lock) for hours.
 */
describe('database connection limits', () => {
	let t: TestEngine;

	beforeAll(async () => {
		t = await startTestEngine(
			{ DB_STATEMENT_TIMEOUT_MS: '1000', DB_LOCK_TIMEOUT_MS: '300', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '500', DB_KEEPALIVE_SECONDS: '7' },
			{ background: false },
		);
	});

	afterAll(async () => {
		await t?.stop();
	});

	it('applies the configured timeouts and keepalive on the server side of each connection', async () => {
		const show = async (name: string) => (await t.engine.pool.query(`SHOW ${name}`)).rows[0][name];
		expect(await show('statement_timeout')).toBe('1s');
		expect(await show('lock_timeout')).toBe('300ms');
		expect(await show('idle_in_transaction_session_timeout')).toBe('500ms');
		expect(await show('tcp_keepalives_idle')).toBe('7');
	});

	it('ends a statement that runs too long', async () => {
		await expect(t.engine.pool.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
	});

	it('gives up waiting for a lock held elsewhere', async () => {
		const holder = await t.engine.pool.connect();
		holder.on('error', () => undefined);
		try {
			await holder.query('BEGIN');
			await holder.query('SELECT pg_advisory_xact_lock(424242)');
			await expect(withTransaction(t.engine.pool, (tx) => tx.query('SELECT pg_advisory_xact_lock(424242)'))).rejects.toMatchObject({ code: '55P03' });
			await holder.query('ROLLBACK');
		} finally {
			holder.release(true);
		}
	});

	it('ends a session left idle inside a transaction, releasing its locks', async () => {
		const stalled = await t.engine.pool.connect();
		const errors: Error[] = [];
		stalled.on('error', (e) => errors.push(e));
		try {
			await stalled.query('BEGIN');
			await stalled.query('SELECT pg_advisory_xact_lock(434343)');
			// The client "vanishes": it sends nothing more. The server ends the session after 500 ms.
			await new Promise((r) => setTimeout(r, 1_500));
			const taken = await withTransaction(t.engine.pool, async (tx) => (await tx.query('SELECT pg_try_advisory_xact_lock(434343) AS ok')).rows[0].ok);
			expect(taken).toBe(true);
			expect(errors.some((e) => /idle-in-transaction|terminat/i.test(e.message))).toBe(true);
		} finally {
			stalled.release(true);
		}
	});
});
