// Rate limits, with @fastify/rate-limit and its Redis store (counters shared by
// every API process; an in-process store when there is no Redis):
//
// - per client address, on every request but the health checks, before the key is
//   even looked at (so guessing keys is limited too): RATE_LIMIT_IP_MAX per
//   RATE_LIMIT_IP_WINDOW_SECONDS;
// - per key, on the authenticated routes: RATE_LIMIT_KEY_MAX per window;
// - per key again on exports, much tighter: RATE_LIMIT_EXPORT_MAX per window.
//
// Past a limit: 429 {"error":"rate_limited"} with Retry-After (seconds) and the
// x-ratelimit-* headers; counted in bpe_api_rate_limited_total{limit}.

import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';

export type LimitName = 'ip' | 'key' | 'export';

/** Paths never limited: the health checks of Docker, the deploy gate and Prometheus' probes. */
const UNLIMITED = new Set(['/healthz', '/readyz']);

function settings(ctx: ApiContext, limit: LimitName): { max: number; windowMs: number } {
  const c = ctx.config;
  switch (limit) {
    case 'ip':
      return { max: c.RATE_LIMIT_IP_MAX, windowMs: c.RATE_LIMIT_IP_WINDOW_SECONDS * 1000 };
    case 'key':
      return { max: c.RATE_LIMIT_KEY_MAX, windowMs: c.RATE_LIMIT_KEY_WINDOW_SECONDS * 1000 };
    case 'export':
      return { max: c.RATE_LIMIT_EXPORT_MAX, windowMs: c.RATE_LIMIT_EXPORT_WINDOW_SECONDS * 1000 };
  }
}

function common(ctx: ApiContext, limit: LimitName) {
  const { max, windowMs } = settings(ctx, limit);
  const what = limit === 'ip' ? 'from this address' : limit === 'export' ? 'exports with this key' : 'with this key';
  return {
    max,
    timeWindow: windowMs,
    redis: ctx.redis,
    nameSpace: `${ctx.config.REDIS_PREFIX}:api:rl:${limit}:`,
    // A Redis outage must not stop the API: authentication (which needs Redis) fails closed on its own.
    skipOnError: true,
    onExceeded: () => {
      ctx.stats.rateLimited[limit] += 1;
    },
    errorResponseBuilder: (_request: FastifyRequest, context: { after: string; max: number }) =>
      new ApiError(429, 'rate_limited', `too many requests ${what}: at most ${context.max} per ${Math.round(windowMs / 1000)} s; retry in ${context.after}`),
  };
}

// fp: each limit's hook covers the instance that registers it (the root, or a
// route group in app.ts), not a scope of the plugin's own.

const perAddress: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
  await app.register(rateLimit, {
    ...common(ctx, 'ip'),
    global: false,
    allowList: (request) => UNLIMITED.has(request.url.split('?')[0] ?? ''),
  });
  app.addHook('onRequest', app.rateLimit());
};

const perKey: FastifyPluginAsync<{ ctx: ApiContext; limit: 'key' | 'export' }> = async (app, { ctx, limit }) => {
  await app.register(rateLimit, {
    ...common(ctx, limit),
    global: true,
    // Without authentication (API_AUTH=off) every client counts as its address.
    keyGenerator: (request) => (request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`),
  });
};

/** The per-address limit: registered on the root, run before authentication. */
export const ipRateLimit = fp(perAddress, { name: 'bpe-ip-rate-limit', fastify: '5.x' });

/** A per-key limit for the routes of the scope that registers it (after the auth plugin). */
export const keyRateLimit = fp(perKey, { name: 'bpe-key-rate-limit', fastify: '5.x' });
