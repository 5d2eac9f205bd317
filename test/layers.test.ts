// The layers of ARCHITECTURE.md are enforced by `npm run lint` (eslint.config.js:
// import-x/no-restricted-paths). Shown here on imports that cross a layer upward or
// sideways, linted as if they were written in the files named, against real modules.

import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../base/paths.ts';
import { layers } from '../eslint.config.js';

/** ESLint with only the layer rule (the production config's block), without type information, so a file need not exist. */
const linter = new ESLint({
  cwd: REPO_ROOT,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, { files: ['**/*.ts'], ...layers }],
});

async function layerErrors(file: string, source: string): Promise<string[]> {
  const [result] = await linter.lintText(source, { filePath: `${REPO_ROOT}${file}` });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('layers (eslint import-x/no-restricted-paths in npm run lint)', () => {
  it('refuses an upward import: telemetry/ importing the pipeline\'s shared code', async () => {
    const errors = await layerErrors('telemetry/probe.ts', "import { createLogger } from '../services/shared/logger.ts';\nexport const l = createLogger;\n");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^import-x\/no-restricted-paths: .*telemetry\/ sits under the services/);
  });

  it('refuses base/ importing anything of ours, a service importing another, and the mixin importing a service or the tools', async () => {
    expect(await layerErrors('base/probe.ts', "import { METRICS } from '../telemetry/metrics.ts';\nexport const m = METRICS;\n")).toHaveLength(1);
    expect(await layerErrors('services/api/probe.ts', "import { Writer } from '../writer/writer.ts';\nexport const w = Writer;\n")).toHaveLength(1);
    expect(await layerErrors('mixin/probe.ts', "import { ALERT } from '../alerts/names.ts';\nexport const a = ALERT;\n")).toHaveLength(1);
    expect(await layerErrors('alerts/probe.ts', "import { queries } from '../dashboards/queries.ts';\nexport const q = queries;\n")).toHaveLength(1);
    expect(await layerErrors('services/writer/probe.ts', "import { startStackMonitoring } from '../../tools/stack/monitoring.ts';\nexport const s = startStackMonitoring;\n")).toHaveLength(1);
  });

  it('allows imports that point down', async () => {
    expect(await layerErrors('services/api/probe.ts', "import { loadConfig } from '../../base/config.ts';\nimport { createLogger } from '../shared/logger.ts';\nimport { startTelemetry } from '../../telemetry/start.ts';\nexport const x = [loadConfig, createLogger, startTelemetry];\n")).toEqual([]);
    expect(await layerErrors('dashboards/probe.ts', "import { ALERT } from '../alerts/names.ts';\nimport { metric } from '../mixin/promql.ts';\nexport const x = [ALERT, metric];\n")).toEqual([]);
  });

  it('is part of the configuration `npm run lint` uses, for every part of the repository', async () => {
    const eslint = new ESLint({ cwd: REPO_ROOT });
    for (const file of ['base/paths.ts', 'telemetry/start.ts', 'services/api/app.ts', 'mixin/config.ts', 'dashboards/lib.ts', 'loadtest/api.ts']) {
      const config = (await eslint.calculateConfigForFile(`${REPO_ROOT}${file}`)) as { rules: Record<string, unknown[]> };
      expect(config.rules['import-x/no-restricted-paths']?.[0], file).toBe(2);
    }
  });
});
