// Runs Prometheus' and Alertmanager's own checkers on the generated files:
// `promtool check rules` (syntax and lint), `promtool test rules` (the unit
// tests of alerts/tests), `promtool check config` and `amtool check-config`.
// Shared by `npm run alerts:check` and test/alerts.test.ts.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mixinConfig, type MixinConfig } from '../mixin/config.ts';
import { GROUP_ORDERS, groupEvalOrder, renderUnitTests, unitTests, type GroupOrder } from './tests/index.ts';

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
 * Writes every unit test file (loading `<rulesDir>/<component>.yml`) and runs
 * them, once with each order of rule-group evaluation where the order can matter (see
 * GroupOrder), two promtool processes at a time.
 */
export async function testRules(rulesDir: string, config: MixinConfig = mixinConfig): Promise<ToolResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bpe-promtool-'));
  try {
    const files: string[] = [];
    for (const tests of unitTests(config)) {
      // One run per distinct order: a file without recording rules has only one.
      const orders = new Map<string, GroupOrder>();
      for (const order of GROUP_ORDERS) {
        const key = groupEvalOrder(tests.components, order, config).join();
        if (!orders.has(key)) orders.set(key, order);
      }
      for (const order of orders.values()) {
        const file = join(dir, `${tests.name}.${order}.test.yml`);
        await writeFile(file, renderUnitTests(tests, rulesDir, order, config));
        files.push(file);
      }
    }
    const results: ToolResult[] = new Array<ToolResult>(files.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < files.length; i = next++) results[i] = await run('promtool', ['test', 'rules', files[i]!]);
    };
    await Promise.all([worker(), worker()]);
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
