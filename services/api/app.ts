// The Fastify application: plugins for the OpenAPI document and errors, then the
// routes. Everything a route needs arrives in one ApiContext, built by main.ts
// (or by a test) so the app itself holds no global state.

import Fastify, { type FastifyError } from 'fastify';
import type { Meter } from '@opentelemetry/api';
import { histogram } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metrics.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { DuckDBConnection } from '@duckdb/node-api';
import { SERVICE_VERSION, type Logger } from '../shared/logger.ts';
import type { ApiConfig } from './config.ts';
import { ApiError, type ErrorBody } from './errors.ts';
import type { QueryEndpoint, QueryEngine } from './query-engine.ts';
import { QueryCancelledError } from './query-engine.ts';
import type { ResponseCache } from './cache.ts';
import type { Redis } from '../shared/redis.ts';
import type { SideTables } from './side-tables.ts';
import type { StoreIndex } from './store-index.ts';
import { searchRoutes } from './routes/search.ts';
import { exportRoutes } from './routes/export.ts';
import { postRoutes } from './routes/posts.ts';
import { statsRoutes } from './routes/stats.ts';
import { healthRoutes } from './routes/health.ts';

/** Counters the routes keep; the metrics module reads them. */
export interface ApiStats {
  rowsReturned: Partial<Record<QueryEndpoint, number>>;
  exportBytes: { csv: number; ndjson: number };
  rejectedValidation: number;
  authFailures: Record<'missing' | 'unknown' | 'revoked' | 'scope', number>;
  rateLimited: Record<'key' | 'ip' | 'export', number>;
  auditEvents: Record<string, number>;
}

export function newApiStats(): ApiStats {
  return {
    rowsReturned: {},
    exportBytes: { csv: 0, ndjson: 0 },
    rejectedValidation: 0,
    authFailures: { missing: 0, unknown: 0, revoked: 0, scope: 0 },
    rateLimited: { key: 0, ip: 0, export: 0 },
    auditEvents: { auth_failure: 0, key_created: 0, key_revoked: 0, key_rotated: 0, export: 0, admin: 0, deploy: 0 },
  };
}

export interface ApiContext {
  config: ApiConfig;
  stats: ApiStats;
  /** Where request durations are recorded (a no-op meter when telemetry is off). */
  meter: Meter;
  engine: QueryEngine;
  store: StoreIndex;
  sideTables: SideTables;
  cache: ResponseCache;
  /** Redis for the response cache (and readiness); absent in some tests. */
  redis?: Redis;
  /** A connection outside the query pool, so readiness answers even when the pool is busy. */
  healthConnection: DuckDBConnection;
  logger: Logger;
}

export async function buildApp(ctx: ApiContext) {
  const app = Fastify({
    loggerInstance: ctx.logger,
    requestIdHeader: 'x-request-id',
    // Unknown query parameters are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 2100 },
    return503OnClosing: true,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Bluesky Post Explorer API',
        version: SERVICE_VERSION,
        description: 'Search, export and statistics over Bluesky posts collected from the Jetstream firehose.',
      },
      tags: [
        { name: 'posts', description: 'search, export and look up posts' },
        { name: 'stats', description: 'counts over time windows' },
        { name: 'health', description: 'liveness and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // HTTP semantic conventions: the route template, never the raw URL (bounded cardinality).
  const requestDuration = histogram(ctx.meter, METRICS.httpServerDuration);
  app.addHook('onResponse', async (request, reply) => {
    requestDuration.record(reply.elapsedTime / 1000, {
      'http.route': request.routeOptions.url ?? 'unmatched',
      'http.request.method': request.method,
      'http.response.status_code': reply.statusCode,
    });
  });

  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => {
    if (error instanceof ApiError) {
      void reply.headers(error.headers).code(error.statusCode).send({ error: error.code, message: error.message } satisfies ErrorBody);
      return;
    }
    if (error instanceof QueryCancelledError) {
      request.log.info('client went away; query cancelled');
      void reply.code(499).send({ error: 'client_closed', message: error.message });
      return;
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      ctx.stats.rejectedValidation += 1;
      void reply.code(400).send({ error: 'bad_request', message: `${fastifyError.validationContext ?? 'request'} ${fastifyError.validation[0]?.instancePath ?? ''} ${fastifyError.validation[0]?.message ?? 'is invalid'}`.replace(/\s+/g, ' ').trim() });
      return;
    }
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      void reply.code(fastifyError.statusCode).send({ error: 'bad_request', message: fastifyError.message });
      return;
    }
    request.log.error({ err: error }, 'request failed');
    void reply.code(500).send({ error: 'internal', message: 'internal error; it has been logged' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  await app.register(healthRoutes, { ctx });
  await app.register(searchRoutes, { ctx });
  await app.register(exportRoutes, { ctx });
  await app.register(postRoutes, { ctx });
  await app.register(statsRoutes, { ctx });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
