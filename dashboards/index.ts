// The dashboards part of the mixin: every dashboard, built from the one
// configuration object, and their rendering to dashboards/dist/<uid>.json.

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { mixinConfig, type MixinConfig } from '../mixin/config.ts';
import { apiDashboard } from './api.ts';
import { bufferDashboard } from './buffer.ts';
import { hostDashboard } from './host.ts';
import { ingesterDashboard } from './ingester.ts';
import { logsDashboard } from './logs.ts';
import { overviewDashboard } from './overview.ts';
import { securityDashboard } from './security.ts';
import { writerDashboard } from './writer.ts';

const BUILDERS = [overviewDashboard, ingesterDashboard, bufferDashboard, writerDashboard, apiDashboard, hostDashboard, securityDashboard, logsDashboard];

export function dashboards(config: MixinConfig = mixinConfig): Dashboard[] {
  return BUILDERS.map((build) => build(config));
}

/** dashboards/dist/<uid>.json -> content. */
export function renderDashboards(config: MixinConfig = mixinConfig): Map<string, string> {
  return new Map(dashboards(config).map((d) => [`${d.uid!}.json`, `${JSON.stringify(d, null, 2)}\n`]));
}
