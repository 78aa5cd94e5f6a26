// Diagnostics, opt-in (`--count-queries`): preloaded into the engine process with `--import`, it
// counts every SQL statement the engine and its pg-boss send (by statement text) with their
// client-side time, groups transactions (BEGIN … COMMIT on one client) by their first statement,
// and writes both tables to BENCH_QUERY_LOG when the process exits.
import { writeFileSync } from 'node:fs';
import pg from 'pg';

const out = process.env.BENCH_QUERY_LOG;
const statements = new Map(); // normalised text → { calls, ms, rows }
const transactions = new Map(); // first statement → { durations: [], statements }
const open = new WeakMap(); // client → { began, first, count }

function keyOf(query) {
	const text = typeof query === 'string' ? query : (query?.text ?? String(query));
	return text.replace(/\s+/g, ' ').trim().slice(0, 160);
}

function trackTransaction(client, key, now) {
	if (key === 'BEGIN') {
		open.set(client, { began: now, first: null, count: 0 });
		return;
	}
	const tx = open.get(client);
	if (!tx) return;
	if (key === 'COMMIT' || key === 'ROLLBACK') {
		open.delete(client);
		const name = `${key === 'ROLLBACK' ? '[rolled back] ' : ''}${(tx.first ?? '(empty)').slice(0, 90)}`;
		const entry = transactions.get(name) ?? { durations: [], statements: 0 };
		entry.durations.push(now - tx.began);
		entry.statements += tx.count;
		transactions.set(name, entry);
		return;
	}
	tx.first ??= key;
	tx.count += 1;
}

const original = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(query, ...rest) {
	const key = keyOf(query);
	const began = performance.now();
	trackTransaction(this, key, began);
	const record = (rows) => {
		const s = statements.get(key) ?? { calls: 0, ms: 0, rows: 0 };
		s.calls += 1;
		s.ms += performance.now() - began;
		s.rows += rows ?? 0;
		statements.set(key, s);
	};
	const result = original.call(this, query, ...rest);
	if (result && typeof result.then === 'function') {
		result.then((r) => record(r?.rowCount), () => record(0));
	}
	return result;
};

const pct = (sorted, p) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);

process.on('exit', () => {
	if (!out) return;
	const txLines = [...transactions.entries()]
		.sort((a, b) => b[1].durations.length - a[1].durations.length)
		.map(([first, t]) => {
			const d = [...t.durations].sort((a, b) => a - b);
			const perTx = (t.statements / d.length + 2).toFixed(1);
			return `tx ${String(d.length).padStart(6)} × ${perTx.padStart(4)} statements (BEGIN/COMMIT included), p50 ${pct(d, 50).toFixed(1)} ms, p99 ${pct(d, 99).toFixed(1)} ms: ${first}`;
		});
	const statementLines = [...statements.entries()]
		.sort((a, b) => b[1].ms - a[1].ms)
		.map(([text, s]) => `${String(s.calls).padStart(7)} calls ${s.ms.toFixed(0).padStart(7)} ms ${String(s.rows).padStart(8)} rows  ${text}`);
	writeFileSync(out, `${[...txLines, ...statementLines].join('\n')}\n`);
});
