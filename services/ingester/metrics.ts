// The ingester's metrics, read from its stats when Prometheus scrapes.

import type { Meter } from '@opentelemetry/api';
import { METRICS } from '../../telemetry/metrics.ts';
import { observeCounter, observeGauge, series } from '../../telemetry/instruments.ts';
import { droppedLogRecords } from '../shared/logger.ts';
import type { Ingester } from './ingester.ts';

export function bindIngesterMetrics(meter: Meter, ingester: Ingester): void {
  const { stats, client } = ingester;
  observeCounter(meter, METRICS.ingesterEventsReceived, () =>
    [...stats.received].map(([key, count]) => {
      const [kind = '', collection = '', operation = ''] = key.split('|');
      return [{ kind, collection, operation }, count] as const;
    }),
  );
  observeCounter(meter, METRICS.ingesterEventsStored, () => stats.eventsAdded);
  observeCounter(meter, METRICS.ingesterEventsDuplicate, () => stats.eventsDuplicate);
  observeCounter(meter, METRICS.ingesterBytesReceived, () => stats.bytesReceived);
  observeCounter(meter, METRICS.ingesterDeadLettered, () => series(stats.deadLettered, 'reason'));
  observeCounter(meter, METRICS.ingesterReconnects, () => client.reconnects);
  observeCounter(meter, METRICS.ingesterRedisErrors, () => stats.redisErrors);
  observeCounter(meter, METRICS.logsDropped, droppedLogRecords);
  observeGauge(meter, METRICS.ingesterConnected, () => (client.connected ? 1 : 0));
  observeGauge(meter, METRICS.ingesterPaused, () => (ingester.paused ? 1 : 0));
  // Unknown until the first event is stored; then it grows while nothing new arrives.
  observeGauge(meter, METRICS.ingesterCursorLag, () => (stats.cursorUs > 0 ? Math.max(0, Date.now() / 1000 - stats.cursorUs / 1e6) : []));
  observeGauge(meter, METRICS.ingesterLastEvent, () => stats.lastFrameAt / 1000);
}
