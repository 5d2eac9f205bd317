// The Fastify application: plugins for security headers, CORS, the per-address
// rate limit, the OpenAPI document and errors, then the routes, in groups:
//
//   public            /healthz /readyz /docs /openapi.json
//   scope "search"    /v1/search /v1/posts/… /v1/stats/…   auth(search) + key limit
//   scope "export"    /v1/export                            auth(export) + key and export limits + audit
//   scope "admin"     /v1/admin/…                           auth(admin) + key limit
//
// Each group is a Fastify scope: the auth and rate-limit plugins registered in it
// cover exactly its routes (encapsulation decides what a route sees), and the route
// files know nothing of either. Everything a route needs arrives in one ApiContext
// (context.ts), built by server.ts (or by a test) so the app itself holds no global state.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { histogram } from '../../telemetry/instruments.ts';
import { METRICS } from '../../telemetry/metrics.ts';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { SERVICE_VERSION } from '../../base/version.ts';
import type { ApiContext } from './context.ts';
import { ApiError, codeForStatus, type ErrorBody } from './errors.ts';
import { QueryCancelledError } from './query-engine.ts';
import { searchRoutes } from './routes/search.ts';
import { exportRoutes } from './routes/export.ts';
import { postRoutes } from './routes/posts.ts';
import { statsRoutes } from './routes/stats.ts';
import { healthRoutes } from './routes/health.ts';
import { adminRoutes } from './routes/admin.ts';
import { authPlugin } from './auth/plugin.ts';
import { redactKeys, type Scope } from './auth/keys.ts';
import { securityHeaders } from './plugins/security-headers.ts';
import { ipRateLimit, keyRateLimit } from './plugins/rate-limits.ts';
import { exportAudit } from './plugins/export-audit.ts';

/** Errors Node's HTTP parser raises before Fastify sees a request (a head too large, a malformed request, a slow client). */
function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message = status === 431 ? 'the request line and headers are too large' : status === 408 ? 'the request took too long to arrive' : 'malformed HTTP request';
  const body = JSON.stringify({ error: codeForStatus(status), message } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Query parameters whose values are never logged, whatever route they were sent to. */
const CREDENTIAL_PARAM = /^(?:[\w.-]*(?:key|token|secret|password|passwd|auth|session)[\w.-]*)=/i;

/**
 * A request URL as it may be logged: the API takes keys in a header only, but a
 * client may put one in a URL anyway (?api_key=…, or pasted into a search); the
 * values of credential-like parameters and anything shaped like a key are redacted.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf('?');
  const path = at < 0 ? url : url.slice(0, at);
  const query = at < 0 ? '' : `?${url
    .slice(at + 1)
    .split('&')
    .map((pair) => (CREDENTIAL_PARAM.test(pair) ? `${pair.slice(0, pair.indexOf('=') + 1)}[redacted]` : pair))
    .join('&')}`;
  let decoded = `${path}${query}`;
  try {
    // A key may arrive percent-encoded; what is logged is the decoded form, redacted.
    decoded = decodeURIComponent(decoded);
  } catch {
    // not valid percent-encoding: redact the raw text
  }
  return redactKeys(decoded);
}

/** Errors Fastify raises before routing (a URL that does not decode): the API's error shape, not Fastify's. */
function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(400).send({ error: 'bad_request', message: error.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid: bad percent-encoding' : 'the request could not be routed' } satisfies ErrorBody);
}

/** A group of routes behind a key with `scope`: the auth plugin, per-key limits, then the group's plugins and routes. */
const routeGroup: FastifyPluginAsync<{ ctx: ApiContext; scope: Scope; limits: ('key' | 'export')[]; plugins: FastifyPluginAsync<{ ctx: ApiContext }>[] }> = async (
  group,
  { ctx, scope, limits, plugins },
) => {
  await group.register(authPlugin, { ctx, scope });
  for (const limit of limits) await group.register(keyRateLimit, { ctx, limit });
  for (const plugin of plugins) await group.register(plugin, { ctx });
};

export async function buildApp(ctx: ApiContext) {
  const { config } = ctx;
  const app = Fastify({
    // Request logs carry the URL redacted (redactUrl), never headers.
    loggerInstance: ctx.logger.child(
      {},
      { serializers: { req: (request: FastifyRequest) => ({ method: request.method, url: redactUrl(request.url), host: request.host, remoteAddress: request.ip }) } },
    ),
    requestIdHeader: 'x-request-id',
    // Unknown query parameters are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    routerOptions: { maxParamLength: 2100 },
    return503OnClosing: true,
    // Limits on what a client may send: a body (the API reads none), the request head, the time to send it.
    bodyLimit: config.BODY_LIMIT_BYTES,
    http: { maxHeaderSize: config.MAX_HEADER_BYTES },
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    clientErrorHandler,
    // A URL that does not decode (bad percent-encoding) gets the API's error shape, not Fastify's.
    frameworkErrors,
    // Behind Caddy, the client's address is the last one Caddy put in X-Forwarded-For.
    trustProxy: config.TRUST_PROXY_HOPS > 0 ? (_address: string, hop: number) => hop < config.TRUST_PROXY_HOPS : false,
  });

  await app.register(securityHeaders, { ctx });
  await app.register(ipRateLimit, { ctx });

  const auth = ctx.auth !== undefined;
  // Health checks need no key; the OpenAPI document says so.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { tags?: string[]; security?: unknown[] } | undefined;
    if (auth && schema?.tags?.includes('health')) schema.security = [];
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
        { name: 'admin', description: 'API keys and the audit trail (admin scope)' },
      ],
      ...(auth
        ? {
            components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from `npm run keys -- create`' } } },
            security: [{ apiKey: [] }],
          }
        : {}),
    },
  });
  // staticCSP: the docs page gets a Content-Security-Policy that allows its own scripts and styles only.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

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
      void reply.code(fastifyError.statusCode).send({ error: codeForStatus(fastifyError.statusCode), message: fastifyError.message });
      return;
    }
    request.log.error({ err: error }, 'request failed');
    void reply.code(500).send({ error: 'internal', message: 'internal error; it has been logged' });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  await app.register(healthRoutes, { ctx });
  await app.register(routeGroup, { ctx, scope: 'search', limits: ['key'], plugins: [searchRoutes, postRoutes, statsRoutes] });
  await app.register(routeGroup, { ctx, scope: 'export', limits: ['key', 'export'], plugins: [exportAudit, exportRoutes] });
  await app.register(routeGroup, { ctx, scope: 'admin', limits: ['key'], plugins: [adminRoutes] });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
