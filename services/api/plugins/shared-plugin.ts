// A plugin whose hooks and decorators apply to the instance that registers it,
// not to a scope of its own: what fastify-plugin does, without the dependency.
// The auth and rate-limit plugins are registered inside a route group's scope
// (app.ts), so their hooks cover exactly that group's routes: encapsulation
// decides what a route sees.

import type { FastifyPluginAsync } from 'fastify';

export function sharedPlugin<Options extends Record<string, unknown>>(name: string, plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  const shared = plugin as FastifyPluginAsync<Options> & Record<symbol, unknown>;
  shared[Symbol.for('skip-override')] = true;
  shared[Symbol.for('fastify.display-name')] = name;
  return plugin;
}
