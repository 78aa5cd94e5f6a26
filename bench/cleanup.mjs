// Everything the benchmark starts (engine processes, pg-boss instances, schemas, the embedded
// PostgreSQL) registers how to undo it here, so a failure or Ctrl-C still leaves nothing behind.

const stack = [];

/** Registers `undo`; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(label, undo) {
	const entry = { label, undo, done: null };
	stack.push(entry);
	return () => {
		const i = stack.indexOf(entry);
		if (i >= 0) stack.splice(i, 1);
		return (entry.done ??= Promise.resolve().then(undo));
	};
}

/** Runs every registered undo, newest first; failures are printed, not thrown. */
export async function cleanupAll() {
	while (stack.length > 0) {
		const entry = stack.pop();
		try {
			await (entry.done ??= Promise.resolve().then(entry.undo));
		} catch (error) {
			process.stderr.write(`cleanup of ${entry.label} failed: ${error?.message ?? error}\n`);
		}
	}
}
