import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
	data: T | null;
	error: Error | null;
	loading: boolean;
	/** Loads again, keeping the current data on screen meanwhile. */
	reload(): void;
	/** Changes the data in place (a live event, an action's answer). */
	setData(update: (data: T) => T): void;
}

/**
 * Loads with `load` whenever `deps` change, and on reload(). An answer that arrives after a newer
 * load started is dropped, so a slow page never overwrites a newer one.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
	const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: true });
	const generation = useRef(0);
	const loader = useRef(load);
	loader.current = load;
	const run = useCallback((keep: boolean) => {
		const mine = ++generation.current;
		setState((s) => ({ data: keep ? s.data : null, error: null, loading: true }));
		loader.current().then(
			(data) => mine === generation.current && setState({ data, error: null, loading: false }),
			(error: Error) => mine === generation.current && setState((s) => ({ data: keep ? s.data : null, error, loading: false })),
		);
	}, []);
	useEffect(() => run(false), deps);
	const reload = useCallback(() => run(true), [run]);
	const setData = useCallback((update: (data: T) => T) => setState((s) => (s.data === null ? s : { ...s, data: update(s.data) })), []);
	return { ...state, reload, setData };
}

/**
 * `fn` at most once per `ms`, at the end of each burst (many events, one reload). The latest `fn`
 * is used.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
	const latest = useRef(fn);
	latest.current = fn;
	const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
	useEffect(() => () => clearTimeout(timer.current), []);
	return useCallback(() => {
		if (timer.current !== undefined) return;
		timer.current = setTimeout(() => {
			timer.current = undefined;
			latest.current();
		}, ms);
	}, [ms]);
}

/** The time, for "in 3 min" labels; changes every `ms` (a clock for the text, not a data poll). */
export function useNow(ms = 1000): number {
	const [now, setNow] = useState(Date.now);
	useEffect(() => {
		const timer = setInterval(() => setNow(Date.now()), ms);
		return () => clearInterval(timer);
	}, [ms]);
	return now;
}
