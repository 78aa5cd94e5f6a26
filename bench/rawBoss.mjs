// Raw pg-boss, the baseline: an instance in the benchmark process, in its own fresh schema,
// with pg-boss's defaults unless a measurement says otherwise (pool of 10 connections).
import { PgBoss } from 'pg-boss';
import { onCleanup } from './cleanup.mjs';
import { dropSchemas, freshSchema, quoteIdent } from './database.mjs';

export async function startRawBoss({ databaseUrl, pool, options = {} }) {
	const schema = freshSchema('bench_raw');
	// The engine runs with the cron scheduler off too; nothing here uses it.
	const boss = new PgBoss({ connectionString: databaseUrl, schema, schedule: false, ...options });
	const errors = [];
	boss.on('error', (error) => errors.push(error));
	const stop = onCleanup(`raw pg-boss (schema ${schema})`, async () => {
		await boss.stop({ graceful: false, timeout: 5000 }).catch(() => undefined);
		await dropSchemas(pool, [schema]);
		if (errors.length > 0) process.stderr.write(`raw pg-boss reported ${errors.length} errors, first: ${errors[0]?.message}\n`);
	});
	try {
		await boss.start();
	} catch (error) {
		await stop();
		throw error;
	}
	/** Jobs of `queue` in `state` (completed, created…), counted in SQL: pg-boss's own stats are cached. */
	const countJobs = async (queue, state) => {
		const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${quoteIdent(schema)}.job WHERE name = $1 AND state = $2`, [queue, state]);
		return rows[0].n;
	};
	return { boss, schema, pool, countJobs, stop };
}
