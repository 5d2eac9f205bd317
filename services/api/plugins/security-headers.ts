// Response headers for every route: @fastify/helmet's defaults (a strict
// Content-Security-Policy, HSTS, nosniff, frame denial, no X-Powered-By, …) and
// CORS for the origins in CORS_ORIGINS only (none by default: browsers on other
// sites get no access; curl and scripts are not concerned by CORS).

import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import type { ApiContext } from '../app.ts';
import { sharedPlugin } from './shared-plugin.ts';

/** Headers a browser client may read besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = [
  'content-disposition',
  'retry-after',
  'x-cache',
  'x-export-row-cap',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-request-id',
];

export const securityHeaders = sharedPlugin<{ ctx: ApiContext }>('bpe-security-headers', async (app, { ctx }) => {
  await app.register(helmet, { global: true });
  const origins = ctx.config.CORS_ORIGINS;
  await app.register(cors, {
    origin: origins.length === 0 ? false : origins,
    methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
  });
});
