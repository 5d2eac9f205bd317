// One start-up call for every service: the OpenTelemetry Node SDK with a
// Prometheus exporter on METRICS_PORT, the resource attributes dashboards and
// alerts select on, runtime metrics (event loop, heap, GC), and histogram
// buckets per histogram from the catalog. Tracing and OTLP logs are off: metrics
// go to Prometheus, logs to stdout and Loki (telemetry/logs.ts).
//
// Services import their `instrument.ts` first, which awaits this, so the SDK is
// running before any other module of the service is evaluated.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics, type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { AggregationType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { startNodeSdk } from '@opentelemetry/sdk-node';
import { z } from 'zod';
import { DEPLOYMENT_ENV, env, loadConfig } from '../base/config.ts';
import { SERVICE_VERSION } from '../base/version.ts';
import { METRICS } from './metrics.ts';

export const DEFAULT_METRICS_PORTS = { ingester: 9464, writer: 9465, api: 9466, replay: 9467 } as const;
export type TelemetryService = keyof typeof DEFAULT_METRICS_PORTS;

export const telemetrySchema = z.object({
  TELEMETRY_ENABLED: env.bool('export metrics (false turns every instrument into a no-op; for benchmarks)').default(true),
  METRICS_HOST: env.string('address of the Prometheus /metrics endpoint').default('127.0.0.1'),
  METRICS_PORT: env.port('port of the Prometheus /metrics endpoint (default per service: ingester 9464, writer 9465, api 9466; 0 = any free port)').optional(),
  DEPLOYMENT_ENV,
});

export interface Telemetry {
  service: TelemetryService;
  enabled: boolean;
  meter: Meter;
  /** The port /metrics listens on (0 when disabled). */
  port: number;
  shutdown(): Promise<void>;
}

/** Histogram boundaries from the catalog, one view per histogram. */
function histogramViews(): ViewOptions[] {
  return Object.values(METRICS)
    .filter((m) => m.type === 'histogram' && 'buckets' in m)
    .map((m) => ({
      instrumentName: m.name,
      aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [...(m as { buckets: readonly number[] }).buckets] } },
    }));
}

export async function startTelemetry(service: TelemetryService, environment: NodeJS.ProcessEnv = process.env): Promise<Telemetry> {
  const config = loadConfig(service, telemetrySchema, environment);
  if (!config.TELEMETRY_ENABLED) {
    return { service, enabled: false, meter: metrics.getMeter(service), port: 0, shutdown: () => Promise.resolve() };
  }
  // The SDK would otherwise start OTLP exporters for traces and logs that nothing listens to.
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';

  // The exporter's own server would fail silently on a taken port; ours fails start-up.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const server = createServer((request, response) => {
    if ((request.url ?? '').split('?')[0] === '/metrics') return exporter.getMetricsRequestHandler(request, response);
    response.writeHead(404).end('metrics are at /metrics\n');
  });
  const requestedPort = config.METRICS_PORT ?? DEFAULT_METRICS_PORTS[service];
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`METRICS_PORT=${requestedPort}: ${error.message}`)));
    server.listen(requestedPort, config.METRICS_HOST, resolve);
  });
  const sdk = startNodeSdk({
    resourceAttributes: {
      'service.name': service,
      'service.version': SERVICE_VERSION,
      'deployment.environment': config.DEPLOYMENT_ENV,
      'deployment.environment.name': config.DEPLOYMENT_ENV,
    },
    resourceDetectors: [],
    spanProcessors: [],
    logRecordProcessors: [],
    metricReaders: [exporter],
    views: histogramViews(),
    instrumentations: [new RuntimeNodeInstrumentation({ monitoringPrecision: 100 })],
  });
  return {
    service,
    enabled: true,
    meter: metrics.getMeter(`bluesky-post-explorer/${service}`, SERVICE_VERSION),
    port: (server.address() as AddressInfo).port,
    shutdown: async () => {
      await sdk.shutdown();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
