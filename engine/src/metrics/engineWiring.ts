import type { Dispatcher } from '../delivery/dispatcher.js';
import type { HealthService } from '../health/healthService.js';
import type { DeliveryRescuer } from '../maintenance/deliveryRescuer.js';
import { EngineMetrics } from './engineMetrics.js';

/**
 * An engine's metrics, connected to what feeds them: every delivery attempt (dispatcher observer),
 * the rescuer's running total, and the queue depths read from the database on each scrape.
 */
export function createEngineMetrics(parts: { health: HealthService; dispatcher: Dispatcher; rescuer: DeliveryRescuer }): EngineMetrics {
	const metrics = new EngineMetrics({ rescuedTotal: () => parts.rescuer.rescuedTotal });
	parts.dispatcher.observe((task, outcome, settled) => metrics.observeDelivery(task, outcome, settled));
	metrics.onScrape(async () => metrics.setQueueDepths(await parts.health.queueDepths()));
	let missedSeen = 0;
	metrics.onScrape(async () => {
		metrics.missedDeadline(parts.rescuer.missedDeadlinesTotal - missedSeen);
		missedSeen = parts.rescuer.missedDeadlinesTotal;
	});
	return metrics;
}
