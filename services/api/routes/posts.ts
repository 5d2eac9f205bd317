import type { FastifyPluginAsync } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { ApiContext } from '../context.ts';
import { errorResponseSchema, notFound } from '../errors.ts';
import { clientGone } from '../filters.ts';
import { findPost } from '../post-query.ts';
import { DID_PATTERN, RKEY_PATTERN, postSchema } from '../schemas.ts';
import { recordUri, COLLECTIONS } from '../../shared/jetstream.ts';
import { tidTimestampUs } from '../../shared/tid.ts';

const HOUR_US = 3_600_000_000;

export const postRoutes: FastifyPluginAsync<{ ctx: ApiContext }> = async (fastify, { ctx }) => {
  // request.params and the reply take their types from the route's schemas.
  const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
  app.get(
    '/v1/posts/:did/:rkey',
    {
      schema: {
        tags: ['posts'],
        summary: 'One post by author DID and record key',
        description: 'The latest version of the post; 404 when it is not in the store or was deleted.',
        params: {
          type: 'object',
          required: ['did', 'rkey'],
          additionalProperties: false,
          properties: { did: { type: 'string', maxLength: 2048, pattern: DID_PATTERN }, rkey: { type: 'string', pattern: RKEY_PATTERN } },
        },
        response: { 200: postSchema, 400: errorResponseSchema, 404: errorResponseSchema, 503: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { did, rkey } = request.params;
      const uri = recordUri(did, COLLECTIONS.post, rkey);
      // A post's rkey is a TID holding its creation time: look in the partitions
      // around it (a day each side covers clock skew and delayed delivery).
      const around = tidTimestampUs(rkey);
      if (around === undefined) throw notFound(`no post ${uri}`);
      const post = await ctx.engine.run(
        'post',
        (connection) => findPost(connection, ctx.store, did, rkey, around, 24 * HOUR_US),
        ctx.config.QUERY_TIMEOUT_MS,
        clientGone(reply),
      );
      if (!post) throw notFound(`no post ${uri}`);
      ctx.stats.rowsReturned.post = (ctx.stats.rowsReturned.post ?? 0) + 1;
      const { time_us: _t, rkey: _r, ...body } = post;
      return body;
    },
  );
};
