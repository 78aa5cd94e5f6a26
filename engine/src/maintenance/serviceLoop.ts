import type { Logger } from '../log.js';

/** A piece of background work that handles one bounded batch per call and says what it did. */
export interface MaintenanceService {
	readonly name: string;
	runOnce(): Promise<Record<string, number>>;
}

/**
 * Runs a service every `intervalMs` (never two runs at once), logs errors instead of dying, and
 * stops awaitably. Tests skip the loop and call `runOnce` directly.
 */
export class ServiceLoop {
	private timer: NodeJS.Timeout | null = null;
	private running: Promise<void> | null = null;
	private stopped = false;

	constructor(
		private readonly service: MaintenanceService,
		private readonly intervalMs: number,
		private readonly log: Logger,
	) {}

	start(): void {
		this.schedule(0);
	}

	private schedule(delay: number): void {
		if (this.stopped) return;
		this.timer = setTimeout(() => {
			this.running = this.tick().finally(() => {
				this.running = null;
				this.schedule(this.intervalMs);
			});
		}, delay);
		this.timer.unref();
	}

	private async tick(): Promise<void> {
		try {
			const counts = await this.service.runOnce();
			if (Object.values(counts).some((n) => n > 0)) this.log.info({ service: this.service.name, ...counts }, 'maintenance');
		} catch (error) {
			this.log.error({ err: error, service: this.service.name }, 'maintenance run failed');
		}
	}

	async stop(): Promise<void> {
		this.stopped = true;
		if (this.timer) clearTimeout(this.timer);
		await this.running;
	}
}
