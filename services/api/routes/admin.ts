import type { FastifyPluginAsync } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { ApiContext } from '../context.ts';
import { errorResponseSchema, notFound } from '../errors.ts';
import { verifyAudit } from '../../shared/audit/verify.ts';

const keySchema = {
  type: 'object',
  required: ['id', 'name', 'scopes', 'created_at'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
    last_used_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] },
    expires_at: { type: ['string', 'null'] },
    rotated_from: { type: ['string', 'null'] },
    rotated_to: { type: ['string', 'null'] },
  },
} as const;

/** Administration over HTTP, for keys with the admin scope; every call is an audit entry. Keys are created with `npm run keys` only. */
export const adminRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (fastify, { ctx }) => {
  // request.params and the replies take their types from the routes' schemas.
  const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
  const actor = (request: { apiKey?: { id: string; name: string } }) =>
    request.apiKey ? { type: 'key' as const, id: request.apiKey.id, name: request.apiKey.name } : { type: 'anonymous' as const };

  app.get(
    '/v1/admin/keys',
    {
      schema: {
        tags: ['admin'],
        summary: 'Every API key: id, name, scopes, times (never the key or its hash)',
        response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keySchema } } }, 503: errorResponseSchema },
      },
    },
    async (request) => {
      const keys = (await ctx.keys?.list()) ?? [];
      ctx.audit?.record({ action: 'admin', actor: actor(request), ip: request.ip, details: { operation: 'list_keys', count: keys.length } });
      return { keys };
    },
  );

  app.post(
    '/v1/admin/keys/:id/revoke',
    {
      schema: {
        tags: ['admin'],
        summary: 'Revoke a key now (every API process refuses it within API_KEY_CACHE_MS)',
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$' } } },
        response: { 200: keySchema, 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request) => {
      const existing = await ctx.keys?.get(request.params.id);
      if (!existing || !ctx.keys) throw notFound(`no key ${request.params.id}`);
      const record = await ctx.keys.revoke(request.params.id);
      if (!existing.revoked_at) {
        ctx.audit?.record({ action: 'key_revoked', actor: actor(request), ip: request.ip, details: { key_id: record.id, key_name: record.name, via: 'api' } });
      }
      return record;
    },
  );

  app.get(
    '/v1/admin/audit/verify',
    {
      schema: {
        tags: ['admin'],
        summary: 'Check the audit trail\'s hash chain in Redis (npm run audit:verify also checks the daily files)',
        response: {
          200: {
            type: 'object',
            required: ['ok', 'problems'],
            properties: {
              ok: { type: 'boolean' },
              stream: { type: 'object', additionalProperties: true },
              problems: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
        },
      },
    },
    async (request) => {
      const result = ctx.redis ? await verifyAudit({ redis: ctx.redis, prefix: ctx.config.REDIS_PREFIX }) : { ok: false, problems: [{ kind: 'unavailable', message: 'no Redis' }] };
      ctx.audit?.record({ action: 'admin', actor: actor(request), ip: request.ip, details: { operation: 'verify_audit', ok: result.ok, problems: result.problems.length } });
      return result;
    },
  );
};
