import type { Severity } from '../../domain/common.js';
import type { SignalDraft, SignalStatus } from '../../domain/signal.js';
import {
  cleanLinks,
  cleanMetric,
  clip,
  environmentFromLabels,
  invalid,
  isRecord,
  LIMITS,
  lenientTimestamp,
  makeDraft,
  type Path,
  pickLabel,
  preview,
  severityFromWord,
  where,
} from './normalize.js';

/**
 * One entry of an alarm's metric list, in a shape both the SNS message (`Trigger`) and the EventBridge
 * event (`configuration.metrics`) reduce to, so the mapping rules live in one place.
 */
export interface AlarmMetric {
  id?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
  stat?: string | undefined;
  unit?: string | undefined;
  dimensions: [string, string][];
  expression?: string | undefined;
  label?: string | undefined;
  returnData: boolean | undefined;
}

export interface AlarmFacts {
  source: 'cloudwatch' | 'eventbridge';
  alarmName: string;
  alarmArn?: string | undefined;
  accountId?: string | undefined;
  /** A region code such as `eu-west-1`, when the format states one outside the ARN. */
  region?: string | undefined;
  description?: string | undefined;
  state: string;
  /** Where `state` sits in the body, for the error when it is not a known alarm state. */
  statePath: Path;
  previousState?: string | undefined;
  reason?: string | undefined;
  /** EventBridge's parsed `state.reasonData`: threshold and evaluated datapoints. */
  reasonData?: Record<string, unknown> | undefined;
  changedAt: number;
  metrics: AlarmMetric[];
  /** The metric list as received, kept verbatim for metric-math alarms. */
  rawMetrics?: unknown;
  threshold?: number | undefined;
  comparison?: string | undefined;
  /** EventBridge's `alarmTags`, present when tag propagation is on. */
  tags?: Record<string, string> | undefined;
  raw: unknown;
}

const SEVERITY_ASSIGNMENT = /\bseverity\s*[=:]\s*["']?([A-Za-z0-9_-]+)/i;
const SEVERITY_TAG = /\[\s*(sev\s*[1-4])\s*\]/i;
const ENVIRONMENT_ASSIGNMENT = /\b(?:env|environment)\s*[=:]\s*["']?([A-Za-z0-9_.-]+)/i;
/** The first (most recent) datapoint CloudWatch quotes in a reason: `[1234.0 (06/03/15 17:43:27)`. */
const REASON_DATAPOINT = /\[\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\(/;
const REGION_CODE = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const SERVICE_DIMENSIONS = ['ServiceName', 'Service', 'service'];
const SERVICE_TAGS = ['service', 'Service', 'app', 'application'];

/** The `index`-th colon-separated field of an ARN (3 is the region, 4 the account). */
export function arnField(arn: string | undefined, index: number): string | undefined {
  if (arn === undefined || !arn.startsWith('arn:')) return undefined;
  const value = arn.split(':')[index]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The severity an alarm in ALARM carries: a tag, then `severity=<word>` or `[SEV1]`..`[SEV4]` in the
 * description, else critical, because by convention an alarm in ALARM pages someone.
 */
function alarmSeverity(facts: AlarmFacts): Severity {
  const tagged = severityFromWord(facts.tags === undefined ? undefined : pickLabel(facts.tags, ['severity']));
  if (tagged !== undefined) return tagged;
  const description = facts.description ?? '';
  const assigned = severityFromWord(SEVERITY_ASSIGNMENT.exec(description)?.[1]);
  if (assigned !== undefined) return assigned;
  return severityFromWord(SEVERITY_TAG.exec(description)?.[1]) ?? 'critical';
}

function stateOutcome(facts: AlarmFacts): { status: SignalStatus; severity: Severity } {
  switch (facts.state) {
    case 'ALARM':
      return { status: 'firing', severity: alarmSeverity(facts) };
    // Keeping the ALARM severity on OK means the resolution updates the signal without re-ranking it.
    case 'OK':
      return { status: 'resolved', severity: alarmSeverity(facts) };
    // Missing data still deserves a look, but it is not evidence that something broke.
    case 'INSUFFICIENT_DATA':
      return { status: 'firing', severity: 'info' };
    default:
      return invalid(
        `${where(facts.statePath)} must be ALARM, OK or INSUFFICIENT_DATA (got ${preview(facts.state)})`,
        facts.statePath,
      );
  }
}

/** The metric the alarm evaluates: the one with ReturnData, else the first expression, else the first. */
function evaluatedMetric(metrics: readonly AlarmMetric[]): AlarmMetric | undefined {
  return (
    metrics.find((metric) => metric.returnData === true) ??
    metrics.find((metric) => metric.expression !== undefined) ??
    metrics[0]
  );
}

function isMetricMath(metrics: readonly AlarmMetric[]): boolean {
  return metrics.length > 1 || metrics.some((metric) => metric.expression !== undefined);
}

function serviceFor(facts: AlarmFacts, ordered: readonly AlarmMetric[]): string {
  const tagged = facts.tags === undefined ? undefined : pickLabel(facts.tags, SERVICE_TAGS);
  if (tagged !== undefined) return tagged;
  for (const metric of ordered) {
    const named = metric.dimensions.find(
      ([name, value]) => SERVICE_DIMENSIONS.includes(name) && value.trim() !== '',
    );
    if (named !== undefined) return named[1];
  }
  for (const metric of ordered) {
    const first = metric.dimensions.find(([, value]) => value.trim() !== '');
    if (first !== undefined) return first[1];
  }
  return facts.alarmName;
}

function numberIn(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function observedValue(facts: AlarmFacts): number | undefined {
  const quoted = REASON_DATAPOINT.exec(facts.reason ?? '')?.[1];
  if (quoted !== undefined && Number.isFinite(Number(quoted))) return Number(quoted);
  const evaluated = facts.reasonData?.evaluatedDatapoints;
  if (Array.isArray(evaluated) && isRecord(evaluated[0])) {
    const value = numberIn(evaluated[0].value);
    if (value !== undefined) return value;
  }
  const recent = facts.reasonData?.recentDatapoints;
  return Array.isArray(recent) ? numberIn(recent[0]) : undefined;
}

function evaluatedDatapoints(facts: AlarmFacts): { at: number; value: number }[] {
  const evaluated = facts.reasonData?.evaluatedDatapoints;
  if (!Array.isArray(evaluated)) return [];
  const points: { at: number; value: number }[] = [];
  for (const entry of evaluated) {
    if (!isRecord(entry) || typeof entry.timestamp !== 'string') continue;
    const value = numberIn(entry.value);
    // reasonData is advisory: a malformed point is skipped rather than failing the whole alarm.
    const at = lenientTimestamp(entry.timestamp);
    if (at !== undefined && value !== undefined) points.push({ at, value });
  }
  return points;
}

function consoleLink(
  region: string | undefined,
  alarmName: string,
): { href: string; text: string } | undefined {
  if (region === undefined || !REGION_CODE.test(region)) return undefined;
  const host = region.startsWith('cn-')
    ? 'console.amazonaws.cn'
    : region.startsWith('us-gov-')
      ? 'console.amazonaws-us-gov.com'
      : 'console.aws.amazon.com';
  return {
    href: `https://${host}/cloudwatch/home?region=${region}#alarmsV2:alarm/${encodeURIComponent(alarmName)}`,
    text: 'CloudWatch alarm',
  };
}

/** Maps a CloudWatch alarm state change, however it arrived, to a signal draft. */
export function alarmToDraft(facts: AlarmFacts): SignalDraft {
  const { status, severity } = stateOutcome(facts);
  const evaluated = evaluatedMetric(facts.metrics);
  const ordered =
    evaluated === undefined ? facts.metrics : [evaluated, ...facts.metrics.filter((m) => m !== evaluated)];
  const firstNamespace = facts.metrics.find((metric) => metric.namespace !== undefined)?.namespace;
  const region = facts.region ?? arnField(facts.alarmArn, 3);
  const accountId = facts.accountId ?? arnField(facts.alarmArn, 4);

  const metric =
    evaluated === undefined
      ? undefined
      : cleanMetric({
          name:
            evaluated.expression === undefined ? evaluated.name : (evaluated.label ?? evaluated.expression),
          namespace: evaluated.namespace ?? firstNamespace,
          statistic: evaluated.stat,
          unit: evaluated.unit,
          threshold: facts.threshold ?? numberIn(facts.reasonData?.threshold),
          comparison: facts.comparison,
          value: observedValue(facts),
          datapoints: evaluatedDatapoints(facts),
        });

  // Later entries win: the alarm's own identity must not be overwritten by a dimension or tag.
  const labelEntries: [string, string][] = [...Object.entries(facts.tags ?? {})];
  for (const candidate of ordered) {
    for (const [name, value] of candidate.dimensions) labelEntries.push([name, value]);
  }
  labelEntries.push(['alarm_name', facts.alarmName]);
  if (accountId !== undefined) labelEntries.push(['account_id', accountId]);
  if (firstNamespace !== undefined) labelEntries.push(['namespace', firstNamespace]);

  const annotations: [string, string][] = [];
  if (facts.reason !== undefined) annotations.push(['state_reason', facts.reason]);
  if (facts.previousState !== undefined) annotations.push(['previous_state', facts.previousState]);
  if (isMetricMath(facts.metrics) && facts.rawMetrics !== undefined) {
    annotations.push(['metrics', JSON.stringify(facts.rawMetrics)]);
  }

  const description = facts.description ?? '';
  const link = consoleLink(region, facts.alarmName);
  return makeDraft({
    source: facts.source,
    // The ARN is what EventBridge and SNS deliveries of one alarm share, so both land on one signal.
    fingerprint: facts.alarmArn ?? facts.alarmName,
    status,
    severity,
    service: serviceFor(facts, ordered),
    environment:
      (facts.tags === undefined ? undefined : environmentFromLabels(facts.tags)) ??
      ENVIRONMENT_ASSIGNMENT.exec(description)?.[1],
    region,
    title:
      facts.reason === undefined
        ? facts.alarmName
        : clip(`${facts.alarmName}: ${facts.reason}`, LIMITS.title),
    fallbackTitle: facts.alarmName,
    description: facts.description,
    labels: Object.fromEntries(labelEntries),
    annotations: Object.fromEntries(annotations),
    metric,
    startsAt: facts.changedAt,
    endsAt: status === 'resolved' ? facts.changedAt : undefined,
    links: link === undefined ? [] : cleanLinks([link]),
    raw: facts.raw,
  });
}
