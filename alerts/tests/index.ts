// Every promtool unit test file, rendered to YAML next to the rule files it loads.

import { stringify } from 'yaml';
import type { MixinConfig } from '../../telemetry/mixin-config.ts';
import { mixinConfig } from '../../telemetry/mixin-config.ts';
import { apiTests } from './api.ts';
import { bufferTests } from './buffer.ts';
import { AlertTests, type UnitTests } from './dsl.ts';
import { edgeTests } from './edge.ts';
import { hostTests } from './host.ts';
import { ingesterTests } from './ingester.ts';
import { metaTests } from './meta.ts';
import { securityTests } from './security.ts';
import { writerTests } from './writer.ts';

export function unitTests(config: MixinConfig = mixinConfig): UnitTests[] {
  const t = new AlertTests(config);
  return [ingesterTests(t), bufferTests(t), writerTests(t), apiTests(t), hostTests(t), edgeTests(t), securityTests(t), metaTests(t)];
}

/** The promtool test file of a component; `rulesDir` is where its rule file is. */
export function renderUnitTests(tests: UnitTests, rulesDir: string): string {
  return stringify(
    {
      rule_files: [`${rulesDir}/${tests.component}.yml`],
      evaluation_interval: tests.evaluationInterval ?? '1m',
      tests: tests.groups,
    },
    { lineWidth: 0, aliasDuplicateObjects: false },
  );
}
