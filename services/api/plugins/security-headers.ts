// Response headers for every route: @fastify/helmet's defaults (a strict
// Content-Security-Policy, HSTS, nosniff, frame denial, no X-Powered-By, …) and
// CORS for the origins in CORS_ORIGINS only (none by default: browsers on other
// sites get no access; curl and scripts are not concerned by CORS).

import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiContext } from '../context.ts';

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

const headers: FastifyPluginAsync<{ ctx: ApiContext }> = async (app, { ctx }) => {
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
};

/** fp: helmet and CORS apply to the instance that registers this (the root, app.ts), so to every route. */
export const securityHeaders = fp(headers, { name: 'bpe-security-headers', fastify: '5.x' });
