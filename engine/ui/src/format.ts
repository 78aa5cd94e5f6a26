/** How numbers and times read on the page. Pure functions (tested in test/ui/format.test.ts). */

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export function formatCount(n: number | null | undefined): string {
	return n === null || n === undefined ? '–' : integer.format(n);
}

export function formatRate(n: number | null | undefined): string {
	return n === null || n === undefined ? '–' : decimal.format(n);
}

/** 850 ms, 1.2 s, 3 min 4 s, 2 h 5 min, 2 d 15 h. */
export function formatDuration(ms: number | null | undefined): string {
	if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
	if (ms < 1000) return `${Math.round(ms)} ms`;
	const s = ms / 1000;
	if (s < 60) return `${decimal.format(s)} s`;
	const totalSeconds = Math.round(s);
	if (totalSeconds < 3600) {
		const seconds = totalSeconds % 60;
		return `${Math.floor(totalSeconds / 60)} min${seconds ? ` ${seconds} s` : ''}`;
	}
	if (totalSeconds < 86_400) {
		const minutes = Math.floor(totalSeconds / 60) % 60;
		return `${Math.floor(totalSeconds / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
	}
	const hours = Math.floor(totalSeconds / 3600) % 24;
	return `${Math.floor(totalSeconds / 86_400)} d${hours ? ` ${hours} h` : ''}`;
}

/** "in 3 min", "12 s ago", "just now" — from `iso` seen at `now`. */
export function formatRelative(iso: string | null | undefined, now: number): string {
	if (!iso) return '–';
	const delta = Date.parse(iso) - now;
	if (Math.abs(delta) < 1000) return 'just now';
	const text = formatDuration(Math.abs(delta)).replace(/\.\d+ s$/, ' s');
	return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** A local date and time with seconds, e.g. "2026-12-04 14:03:09". */
export function formatTime(iso: string | null | undefined): string {
	if (!iso) return '–';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return iso;
	const pad = (n: number) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The first block of a UUID: enough to tell tasks apart in a list (the link carries the whole id). */
export function shortId(id: string): string {
	return id.split('-', 1)[0];
}

export function formatPriority(priority: number): string {
	return priority === 10 ? 'high' : priority === 0 ? 'normal' : priority === -10 ? 'low' : String(priority);
}

/** Pretty JSON for a payload or result; `undefined`/`null` reads as "none". */
export function formatJson(value: unknown): string {
	if (value === undefined || value === null) return 'null';
	return JSON.stringify(value, null, 2);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A failure in one line: the status and error class, unless the message already says them, then the message. */
export function describeFailure(statusCode: number | null, errorClass: string | null, message: string | null): string {
	const text = message ?? '';
	const parts = [statusCode !== null && !text.includes(String(statusCode)) ? `HTTP ${statusCode}` : null, errorClass && !text.includes(errorClass) ? errorClass : null, text || null];
	return parts.filter(Boolean).join(' · ');
}
