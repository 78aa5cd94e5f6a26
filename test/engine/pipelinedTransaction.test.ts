import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, DEFAULT_CONNECTION_LIMITS, pipelinedTransaction, withTransaction, type Pool } from '../../engine/src/db/pool.js';
import { testDatabaseUrl } from '../helpers/engine.js';

/**
 * The hot path's transactions in one round trip (db/pool.ts): BEGIN with its locks, the statements
 * and COMMIT sent back to back. What must hold is what a transaction promises — all or nothing, the
 * locks held throughout, the first error reported — and that nothing can slip out of it.
 */
describe('pipelinedTransaction', () => {
	const schema = `pipelined_${process.pid}`;
	let pool: Pool;

	beforeAll(async () => {
		// One connection: every transaction below reuses the connection the one before it left behind.
		pool = createPool(testDatabaseUrl(), schema, undefined, 1);
		await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.t (id int PRIMARY KEY)`);
	});

	afterAll(async () => {
		await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
		await pool.end();
	});

	const rows = async () => (await pool.query<{ id: number }>('SELECT id FROM t ORDER BY id')).rows.map((r) => r.id);

	it('commits the statements sent together, and gives back what they returned', async () => {
		await pool.query('TRUNCATE t');
		const returned = await pipelinedTransaction(pool, async (tx) => {
			const a = tx.query('INSERT INTO t VALUES (1) RETURNING id');
			const b = tx.query('INSERT INTO t VALUES (2) RETURNING id');
			return [(await a).rows[0].id, (await b).rows[0].id];
		});
		expect(returned).toEqual([1, 2]);
		expect(await rows()).toEqual([1, 2]);
	});

	it('writes nothing when one statement fails, and throws the first error sent', async () => {
		await pool.query('TRUNCATE t');
		const failing = pipelinedTransaction(pool, async (tx) => {
			const a = tx.query('INSERT INTO t VALUES (1)');
			const duplicate = tx.query('INSERT INTO t VALUES (1)');
			// Runs in the aborted transaction: fails too (25P02), but the duplicate is the error reported.
			const after = tx.query('INSERT INTO t VALUES (3)');
			await Promise.allSettled([a, duplicate, after]);
			await duplicate;
		});
		await expect(failing).rejects.toMatchObject({ code: '23505' });
		expect(await rows()).toEqual([]);
		// The connection is clean again for the next transaction.
		await pipelinedTransaction(pool, async (tx) => void (await tx.query('INSERT INTO t VALUES (4)')));
		expect(await rows()).toEqual([4]);
	});

	it('rolls back what was sent when the work throws before its first await', async () => {
		await pool.query('TRUNCATE t');
		const thrown = new Error('thrown while sending');
		// Not an async function: it throws synchronously, after its first statement went out.
		const throwing = pipelinedTransaction(pool, ((tx: Parameters<Parameters<typeof pipelinedTransaction>[1]>[0]) => {
			void tx.query('INSERT INTO t VALUES (1)');
			throw thrown;
		}) as never);
		await expect(throwing).rejects.toBe(thrown);
		expect(await rows()).toEqual([]);
		// And the connection is not left inside a transaction.
		await pipelinedTransaction(pool, async (tx) => void (await tx.query('INSERT INTO t VALUES (2)')));
		expect(await rows()).toEqual([2]);
		expect((await pool.query<{ open: boolean }>("SELECT now() = statement_timestamp() AS open")).rows[0].open).toBe(true);
	});

	it('fails when a statement failed even if the work swallowed its error', async () => {
		await pool.query('TRUNCATE t');
		const swallowed = pipelinedTransaction(pool, async (tx) => {
			const a = tx.query('INSERT INTO t VALUES (1)');
			const bad = tx.query('SELECT 1 / 0');
			await a;
			await bad.catch(() => undefined);
		});
		await expect(swallowed).rejects.toThrow(/ended in ROLLBACK/);
		expect(await rows()).toEqual([]);
	});

	it('refuses a statement issued after the first await: it would run after the COMMIT, outside the transaction', async () => {
		await pool.query('TRUNCATE t');
		const late = pipelinedTransaction(pool, async (tx) => {
			await tx.query('INSERT INTO t VALUES (1)');
			await tx.query('INSERT INTO t VALUES (2)');
		});
		await expect(late).rejects.toThrow(/issued after its COMMIT/);
		expect(await rows()).toEqual([1]);
	});

	it('holds its advisory locks until the COMMIT', async () => {
		const other = createPool(testDatabaseUrl(), schema, undefined, 1);
		const tryLock = async () => (await other.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('pipelined-test')) AS ok")).rows[0].ok;
		try {
			let heldDuring: boolean | undefined;
			await pipelinedTransaction(
				pool,
				async (tx) => {
					const slow = tx.query("SELECT pg_sleep(0.5) AS pipelined_probe");
					// Once the statement runs (BEGIN and the lock are done), another session cannot take the lock.
					while ((await other.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%AS pipelined_probe'")).rowCount === 0);
					heldDuring = !(await tryLock());
					await slow;
				},
				{ advisoryLocks: ['pipelined-test'] },
			);
			expect(heldDuring).toBe(true);
			expect(await tryLock()).toBe(true);
		} finally {
			await other.end();
		}
	});

	it('withTransaction, whose first statement travels with BEGIN: a lock BEGIN could not take is the error, and nothing is written', async () => {
		await pool.query('TRUNCATE t');
		const impatient = createPool(testDatabaseUrl(), schema, { ...DEFAULT_CONNECTION_LIMITS, lockTimeoutMs: 200 }, 1);
		const holder = await pool.connect();
		try {
			await holder.query("BEGIN; SELECT pg_advisory_xact_lock(hashtext('pipelined-held'))");
			const blocked = withTransaction(impatient, (tx) => tx.query('INSERT INTO t VALUES (1)'), { advisoryLocks: ['pipelined-held'] });
			await expect(blocked).rejects.toMatchObject({ code: '55P03' });
			await holder.query('ROLLBACK');
			expect((await holder.query('SELECT id FROM t')).rows).toEqual([]);
			await withTransaction(impatient, (tx) => tx.query('INSERT INTO t VALUES (2)'), { advisoryLocks: ['pipelined-held'] });
			expect((await holder.query('SELECT id FROM t')).rows).toEqual([{ id: 2 }]);
		} finally {
			holder.release();
			await impatient.end();
		}
	});
});
