// What every route and plugin is given: one ApiContext, built by server.ts (or by
// a test) and passed down by app.ts, so the app holds no global state. Routes and
// plugins import this module, never app.ts, which imports them.

import type { Meter } from '@opentelemetry/api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from '../shared/logger.ts';
import type { Redis } from '../shared/redis.ts';
import type { ApiConfig } from './config.ts';
import type { QueryEndpoint, QueryEngine } from './query-engine.ts';
import type { ResponseCache } from './cache.ts';
import type { SideTables } from './side-tables.ts';
import type { StoreIndex } from './store-index.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { ApiKeyStore } from './auth/keys.ts';
import type { ApiAudit } from './audit.ts';

/** Counters the routes keep; the metrics module reads them. */
export interface ApiStats {
  rowsReturned: Partial<Record<QueryEndpoint, number>>;
  exportBytes: { csv: number; ndjson: number; parquet: number };
  rejectedValidation: number;
  authFailures: Record<'missing' | 'unknown' | 'revoked' | 'scope', number>;
  rateLimited: Record<'key' | 'ip' | 'export', number>;
  auditEvents: Record<string, number>;
}

export function newApiStats(): ApiStats {
  return {
    rowsReturned: {},
    exportBytes: { csv: 0, ndjson: 0, parquet: 0 },
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
  /** Checks API keys; absent with API_AUTH=off (every route is then open). */
  auth?: Authenticator;
  /** The API keys themselves (admin routes). */
  keys?: ApiKeyStore;
  /** The audit trail; absent without Redis. */
  audit?: ApiAudit;
}
