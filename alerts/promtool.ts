// Runs Prometheus' and Alertmanager's own checkers on the generated files:
// `promtool check rules` (syntax and lint), `promtool test rules` (the unit
// tests of alerts/tests), `promtool check config` and `amtool check-config`.
// Shared by `npm run alerts:check` and test/alerts.test.ts.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mixinConfig, type MixinConfig } from '../telemetry/mixin-config.ts';
import { GROUP_ORDERS, renderUnitTests, unitTests } from './tests/index.ts';

const exec = promisify(execFile);

export interface ToolResult {
  command: string;
  ok: boolean;
  output: string;
}

async function run(command: string, args: string[], cwd?: string): Promise<ToolResult> {
  const line = [command, ...args].join(' ');
  try {
    const { stdout, stderr } = await exec(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return { command: line, ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { command: line, ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

export function checkRules(ruleFiles: string[]): Promise<ToolResult> {
  return run('promtool', ['check', 'rules', ...ruleFiles]);
}

/**
 * Writes every component's unit tests (loading `<rulesDir>/<component>.yml`) and runs
 * them, once with each order of rule-group evaluation (see GroupOrder).
 */
export async function testRules(rulesDir: string, config: MixinConfig = mixinConfig): Promise<ToolResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bpe-promtool-'));
  try {
    const results: ToolResult[] = [];
    for (const tests of unitTests(config)) {
      for (const order of GROUP_ORDERS) {
        const file = join(dir, `${tests.component}.${order}.test.yml`);
        await writeFile(file, renderUnitTests(tests, rulesDir, order, config));
        results.push(await run('promtool', ['test', 'rules', file]));
      }
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function checkPrometheusConfig(file: string): Promise<ToolResult> {
  return run('promtool', ['check', 'config', '--syntax-only', file]);
}

export function checkAlertmanagerConfig(file: string): Promise<ToolResult> {
  return run('amtool', ['check-config', file]);
}
