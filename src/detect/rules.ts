import type { IncidentSeverity } from '../domain/common.js';
import { INCIDENT_SEVERITIES, wellFormed } from '../domain/common.js';
import type { CorrelationRule, NormalizedRuleInput, ThresholdRule, TopologyRule } from '../domain/rule.js';
import { ruleInputSchema } from '../domain/rule.js';
import { type CompiledMatcher, compileMatchers, fieldValue, type MatchableSignal } from './matcher.js';

/** What the built-in topology rule opens on its own: errors on two directly connected services. */
const CASCADE_OPENING = { services: 2, minSeverity: 'error', severity: 'SEV3' } as const;

const TOPOLOGY_RULE_DESCRIPTION =
  "A signal joins an open incident of its environment when its service is within 2 hops of the incident's " +
  "services in the dependency graph and it starts within 10 minutes of the incident's last signal. Errors on " +
  'two services that call one another, within 10 minutes and in no incident, open one (SEV3).';

/**
 * The rules OPX ships. The threshold rules share the group_by [service, environment], so a critical
 * alert and a later burst of errors on the same service land in one incident rather than three; the
 * topology rule then joins the alerts of a cascade, service by service, into the incident already open.
 */
export const DEFAULT_RULES: readonly NormalizedRuleInput[] = [
  {
    kind: 'topology',
    name: 'service-topology',
    description: TOPOLOGY_RULE_DESCRIPTION,
    enabled: true,
    priority: 5,
    matchers: [{ field: 'severity', op: '>=', value: 'warning' }],
    windowSeconds: 600,
    hops: 2,
    opens: CASCADE_OPENING,
  },
  {
    name: 'critical-signal',
    description: 'Any critical signal opens an incident for its service, or joins the one already open.',
    enabled: true,
    priority: 10,
    matchers: [{ field: 'severity', op: '>=', value: 'critical' }],
    groupBy: ['service', 'environment'],
    windowSeconds: 3600,
    threshold: { kind: 'count', value: 1 },
    severity: 'SEV2',
    titleTemplate: '{{service}}: {{title}}',
  },
  {
    name: 'error-burst',
    description: 'Three or more error signals on one service within 10 minutes.',
    enabled: true,
    priority: 20,
    matchers: [{ field: 'severity', op: '>=', value: 'error' }],
    groupBy: ['service', 'environment'],
    windowSeconds: 600,
    threshold: { kind: 'count', value: 3 },
    severity: 'SEV3',
    titleTemplate: '{{service}}: {{count}} error signals in 10 minutes',
  },
  {
    name: 'sustained-error',
    description:
      'An error signal that is still firing 5 minutes after it arrived opens an incident for its service; one that resolves sooner opens nothing.',
    enabled: true,
    priority: 25,
    matchers: [{ field: 'severity', op: '>=', value: 'error' }],
    groupBy: ['service', 'environment'],
    windowSeconds: 600,
    threshold: { kind: 'count', value: 1 },
    sustainedSeconds: 300,
    severity: 'SEV3',
    titleTemplate: '{{service}}: {{title}} (firing for 5 minutes)',
  },
  {
    name: 'warning-storm',
    description: 'Five or more warnings on one service within 15 minutes.',
    enabled: true,
    priority: 30,
    matchers: [{ field: 'severity', op: '>=', value: 'warning' }],
    groupBy: ['service', 'environment'],
    windowSeconds: 900,
    threshold: { kind: 'count', value: 5 },
    severity: 'SEV4',
    titleTemplate: '{{service}}: {{count}} warnings in 15 minutes',
  },
  {
    name: 'multi-service-degradation',
    description:
      'Error signals from three or more services in one environment within 10 minutes: a shared cause is likely. ' +
      'Off by default because it overlaps the per-service rules; enable it to get one umbrella incident per storm.',
    enabled: false,
    priority: 40,
    matchers: [{ field: 'severity', op: '>=', value: 'error' }],
    groupBy: ['environment'],
    windowSeconds: 600,
    threshold: { kind: 'distinct_services', value: 3 },
    severity: 'SEV2',
    titleTemplate: '{{environment}}: {{services}} services degraded',
  },
].map((rule) => ruleInputSchema.parse(rule));

export interface CompiledRule {
  rule: ThresholdRule;
  matches: CompiledMatcher;
}

export interface CompiledTopologyRule {
  rule: TopologyRule;
  matches: CompiledMatcher;
}

export interface CompiledRuleSet {
  threshold: CompiledRule[];
  /** The enabled topology rule that runs first (lowest priority value), if any. */
  topology: CompiledTopologyRule | undefined;
}

export function compileRules(rules: readonly CorrelationRule[]): CompiledRuleSet {
  const enabled = rules.filter((rule) => rule.enabled);
  const topology = enabled.find((rule): rule is TopologyRule => rule.kind === 'topology');
  return {
    threshold: enabled
      .filter((rule): rule is ThresholdRule => rule.kind === 'threshold')
      .map((rule) => ({ rule, matches: compileMatchers(rule.matchers) })),
    topology: topology && { rule: topology, matches: compileMatchers(topology.matchers) },
  };
}

/**
 * Whether `signal` counts for `rule` at `now`: always, unless the rule has `sustainedSeconds`; then
 * only while it fires and once that long has passed since it arrived (a signal arriving now never does).
 */
export function sustainedFor(
  rule: ThresholdRule,
  signal: { status: string; received_at: number },
  now: number,
): boolean {
  const seconds = rule.sustainedSeconds ?? null;
  return seconds === null || (signal.status === 'firing' && now - signal.received_at >= seconds * 1000);
}

/** The values a rule groups by, in the rule's order. */
export function groupValues(rule: ThresholdRule, signal: MatchableSignal): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of rule.groupBy) out[field] = fieldValue(signal, field);
  return out;
}

/** Stable text for a set of group values: keys sorted, so equal groups from different rules compare equal. */
export function groupKey(values: Record<string, string>): string {
  // Well-formed: the open candidate is found by comparing this key with the stored one.
  return wellFormed(
    Object.keys(values)
      .sort()
      .map((key) => `${key}=${values[key]}`)
      .join(','),
  );
}

export function renderTitle(template: string, context: Record<string, string | number>): string {
  return template
    .replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_whole, name: string) => {
      const value = context[name];
      return value === undefined ? '' : String(value);
    })
    .slice(0, 500);
}

export function maxSeverity(a: IncidentSeverity, b: IncidentSeverity): IncidentSeverity {
  return INCIDENT_SEVERITIES.indexOf(a) <= INCIDENT_SEVERITIES.indexOf(b) ? a : b;
}
