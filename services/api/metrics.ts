// The API's metrics beyond request durations (recorded by a hook in app.ts):
// query durations by endpoint, rows returned, export bytes, rejected queries and
// the response cache, read from the API's counters when Prometheus scrapes.

import type { Meter } from '@opentelemetry/api';
import { METRICS } from '../../telemetry/metrics.ts';
import { histogram, observeCounter, series } from '../../telemetry/instruments.ts';
import { droppedLogRecords } from '../shared/logger.ts';
import type { Api } from './server.ts';

export function bindApiMetrics(meter: Meter, api: Api): void {
  const queryDuration = histogram(meter, METRICS.apiQueryDuration);
  api.engine.onQueryDone = (endpoint, seconds) => queryDuration.record(seconds, { endpoint });
  observeCounter(meter, METRICS.apiRowsReturned, () => series(api.stats.rowsReturned, 'endpoint'));
  observeCounter(meter, METRICS.apiExportBytes, () => series(api.stats.exportBytes, 'format'));
  observeCounter(meter, METRICS.apiQueriesRejected, () =>
    series({ timeout: api.engine.stats.rejected.timeout, overload: api.engine.stats.rejected.overload, validation: api.stats.rejectedValidation }, 'reason'),
  );
  observeCounter(meter, METRICS.apiCacheRequests, () => series({ hit: api.cache.hits, miss: api.cache.misses }, 'result'));
  observeCounter(meter, METRICS.apiAuthFailures, () => series(api.stats.authFailures, 'reason'));
  observeCounter(meter, METRICS.apiRateLimited, () => series(api.stats.rateLimited, 'limit'));
  observeCounter(meter, METRICS.auditEvents, () => series(api.stats.auditEvents, 'action'));
  observeCounter(meter, METRICS.logsDropped, droppedLogRecords);
}
