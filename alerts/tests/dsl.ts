// A small language for `promtool test rules` files, written in TypeScript so
// that alert names, labels and annotations come from the rules themselves: a
// test says when an alert must fire (and with which series labels and rendered
// value), and the expected annotations are the rule's own templates expanded
// with those. `boundary()` checks a `for:` both ways: quiet one step before it
// elapses, firing once it has.

import { mixinConfig, type MixinConfig } from '../../mixin/config.ts';
import { allAlerts } from '../index.ts';
import type { AlertRule } from '../../mixin/rules/types.ts';
import { durationSeconds } from '../../base/duration.ts';

export const TEST_EXTERNAL_URL = 'https://bpe.example.org/prometheus/';

export interface InputSeries {
  series: string;
  values: string;
}

export interface ExpectedAlert {
  exp_labels: Record<string, string>;
  exp_annotations: Record<string, string>;
}

export interface AlertTestCase {
  eval_time: string;
  alertname: string;
  exp_alerts: ExpectedAlert[];
}

export interface TestGroup {
  name: string;
  interval: string;
  external_labels: Record<string, string>;
  external_url: string;
  input_series: InputSeries[];
  alert_rule_test: AlertTestCase[];
}

export interface UnitTests {
  /** The test file's name: its component's, or what it tests across components. */
  name: string;
  /** The components whose rule files (alerts/dist/<component>.yml) the tests load. */
  components: string[];
  evaluationInterval?: string;
  groups: TestGroup[];
}

/** What one firing alert looks like: which rule (by severity, and by service when names repeat), its series labels, its value as the templates render it. */
export interface Firing {
  severity?: 'critical' | 'warning';
  service?: string;
  /** Labels of the alert's series (besides the rule's own labels). */
  labels: Record<string, string>;
  /** `$value` as rendered by the rule's description (humanize, humanizeDuration, ...). */
  value: string;
  /** Extra rule labels to tell rules of one name apart (e.g. long/short windows). */
  match?: Record<string, string>;
}

/** "90" -> "90m"; promtool durations in minutes for readability. */
export const minutes = (n: number) => `${n}m`;

export function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds > 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** Expands the subset of Prometheus' templating our annotations use; anything else is an error. */
export function expandTemplate(template: string, vars: { labels: Record<string, string>; value: string; externalLabels: Record<string, string>; externalURL: string }): string {
  return template.replace(/\{\{(.*?)\}\}/g, (_, inner: string) => {
    const text = inner.trim();
    let match: RegExpExecArray | null;
    if ((match = /^\$labels\.(\w+)$/.exec(text))) return vars.labels[match[1]!] ?? '';
    if ((match = /^\$externalLabels\.(\w+)$/.exec(text))) return vars.externalLabels[match[1]!] ?? '';
    if (/^\$value(\s*\|\s*\w+)?$/.test(text)) return vars.value;
    if ((match = /^reReplaceAll "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" \$externalURL$/.exec(text))) {
      const replacement = match[2]!.replace(/\$\{(\d+)\}/g, '$$$1');
      return vars.externalURL.replace(new RegExp(match[1]!), replacement);
    }
    throw new Error(`template not supported by the test expander: {{${inner}}}`);
  });
}

export class AlertTests {
  readonly rules: AlertRule[];
  readonly externalLabels: Record<string, string>;

  constructor(readonly config: MixinConfig = mixinConfig) {
    this.rules = allAlerts(config);
    this.externalLabels = { [config.environment.label]: config.environment.production };
  }

  /** The full name of an alert ("IngesterDown" -> "BpeIngesterDown"). */
  name(bare: string): string {
    return `${this.config.alertPrefix}${bare}`;
  }

  rule(alertname: string, firing: Pick<Firing, 'severity' | 'service' | 'match'> = {}): AlertRule {
    const candidates = this.rules.filter(
      (r) =>
        r.alert === alertname &&
        (!firing.severity || r.labels.severity === firing.severity) &&
        (!firing.service || r.labels.service === firing.service) &&
        Object.entries(firing.match ?? {}).every(([k, v]) => r.labels[k] === v),
    );
    if (candidates.length !== 1) throw new Error(`${candidates.length} rules match ${alertname} ${JSON.stringify(firing)}`);
    return candidates[0]!;
  }

  expected(alertname: string, firing: Firing): ExpectedAlert {
    const rule = this.rule(alertname, firing);
    const vars = { labels: firing.labels, value: firing.value, externalLabels: this.externalLabels, externalURL: TEST_EXTERNAL_URL };
    const ruleLabels = Object.fromEntries(Object.entries(rule.labels).map(([k, v]) => [k, expandTemplate(v, vars)]));
    const labels = { ...firing.labels, ...ruleLabels };
    const annotations = Object.fromEntries(
      Object.entries(rule.annotations).map(([k, v]) => [k, expandTemplate(v, { ...vars, labels })]),
    );
    return { exp_labels: labels, exp_annotations: annotations };
  }

  /** At `at`, exactly these alerts of this name fire. */
  fires(bare: string, at: string, ...firing: Firing[]): AlertTestCase {
    const alertname = this.name(bare);
    return { eval_time: at, alertname, exp_alerts: firing.map((f) => this.expected(alertname, f)) };
  }

  /** At `at`, no alert of this name fires. */
  quiet(bare: string, at: string): AlertTestCase {
    return { eval_time: at, alertname: this.name(bare), exp_alerts: [] };
  }

  /**
   * The `for:` boundary of an alert whose condition holds from `trueFrom` on: quiet one
   * evaluation step before `trueFrom + for`, firing at it.
   */
  boundary(bare: string, trueFrom: string, step: string, firing: Firing): AlertTestCase[] {
    const rule = this.rule(this.name(bare), firing);
    const at = durationSeconds(trueFrom) + durationSeconds(rule.for ?? '0s');
    const before = at - durationSeconds(step);
    return [...(before >= 0 ? [this.quiet(bare, formatDuration(before))] : []), this.fires(bare, formatDuration(at), firing)];
  }

  group(name: string, interval: string, input: InputSeries[], cases: (AlertTestCase | AlertTestCase[])[]): TestGroup {
    return {
      name,
      interval,
      external_labels: this.externalLabels,
      external_url: TEST_EXTERNAL_URL,
      input_series: input,
      alert_rule_test: cases.flat(),
    };
  }
}

/** `name{a="b", ...}` for input series. */
export function s(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ')}}`;
}
