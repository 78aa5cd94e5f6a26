/**
 * Splits values into consecutive chunks of at most `maxCount` values and at most `maxBytes` of
 * JSON each (of `sent(value)`, the part that goes over the wire), so every request stays under the engine's limits (1,000 tasks per bulk call, 1 MiB
 * per request body). A single value larger than `maxBytes` gets a chunk of its own: the engine's
 * 413 then names the limit, which says more than anything we could guess here.
 */
export function chunkForRequests<T>(
	values: T[],
	maxCount: number,
	maxBytes: number,
	sent: (value: T) => unknown = (value) => value,
): T[][] {
	const chunks: T[][] = [];
	let current: T[] = [];
	let currentBytes = 0;
	for (const value of values) {
		// +1 for the comma between array elements.
		const bytes = Buffer.byteLength(JSON.stringify(sent(value)) ?? 'null', 'utf8') + 1;
		if (current.length > 0 && (current.length >= maxCount || currentBytes + bytes > maxBytes)) {
			chunks.push(current);
			current = [];
			currentBytes = 0;
		}
		current.push(value);
		currentBytes += bytes;
	}
	if (current.length > 0) chunks.push(current);
	return chunks;
}

/**
 * Request bodies are kept below this many bytes of items, leaving room under the engine's default
 * 1 MiB body limit for the fields around them.
 */
export const MAX_ITEMS_BYTES_PER_REQUEST = 768 * 1024;
