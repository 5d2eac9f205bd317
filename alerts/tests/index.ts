// Every promtool unit test file, rendered to YAML next to the rule files it loads.

import { stringify } from 'yaml';
import type { MixinConfig } from '../../mixin/config.ts';
import { mixinConfig } from '../../mixin/config.ts';
import { components } from '../index.ts';
import { isAlert } from '../../mixin/rules/types.ts';
import { apiTests } from './api.ts';
import { bufferTests } from './buffer.ts';
import { AlertTests, type UnitTests } from './dsl.ts';
import { edgeTests } from './edge.ts';
import { hostTests } from './host.ts';
import { ingesterTests } from './ingester.ts';
import { metaTests } from './meta.ts';
import { securityTests } from './security.ts';
import { serviceDownTests } from './service-down.ts';
import { writerTests } from './writer.ts';

export function unitTests(config: MixinConfig = mixinConfig): UnitTests[] {
  const t = new AlertTests(config);
  return [serviceDownTests(t), ingesterTests(t), bufferTests(t), writerTests(t), apiTests(t), hostTests(t), edgeTests(t), securityTests(t), metaTests(t)];
}

/**
 * In which order promtool evaluates a component's rule groups. Without an order it
 * picks one at random for each evaluation, and an alert reading a recording rule of
 * another group sees it either fresh or one interval late: a flaky test. Real
 * Prometheus evaluates groups independently, each on its own timer, so in production
 * the lag is anywhere from none to one evaluation interval. The tests run both ways:
 * `recording-first` (no lag) and `recording-last` (a full interval late, the worst
 * case), and their expectations hold in both.
 */
export type GroupOrder = 'recording-first' | 'recording-last';
export const GROUP_ORDERS: readonly GroupOrder[] = ['recording-first', 'recording-last'];

export function groupEvalOrder(names: readonly string[], order: GroupOrder, config: MixinConfig = mixinConfig): string[] {
  const all = components(config);
  const groups = names.flatMap((name) => {
    const component = all.find((c) => c.name === name);
    if (!component) throw new Error(`no alert component named ${name}`);
    return component.groups;
  });
  const recording = groups.filter((g) => !g.rules.every(isAlert)).map((g) => g.name);
  const alerting = groups.filter((g) => g.rules.every(isAlert)).map((g) => g.name);
  return order === 'recording-first' ? [...recording, ...alerting] : [...alerting, ...recording];
}

/** A promtool test file; `rulesDir` is where the rule files are. */
export function renderUnitTests(tests: UnitTests, rulesDir: string, order: GroupOrder = 'recording-first', config: MixinConfig = mixinConfig): string {
  return stringify(
    {
      rule_files: tests.components.map((c) => `${rulesDir}/${c}.yml`),
      evaluation_interval: tests.evaluationInterval ?? '1m',
      group_eval_order: groupEvalOrder(tests.components, order, config),
      tests: tests.groups,
    },
    { lineWidth: 0, aliasDuplicateObjects: false },
  );
}
