import { SEVERITY_RANK, type Severity } from '../domain/common.js';
import { MATCHER_FIELDS, type Matcher } from '../domain/rule.js';

/** The fields a matcher reads: the named signal fields, then labels by name. */
export interface MatchableSignal {
  source: string;
  severity: Severity;
  service: string;
  environment: string;
  region?: string | null | undefined;
  status: string;
  title: string;
  labels: Record<string, string>;
}

const DIRECT_FIELDS = new Set<string>(MATCHER_FIELDS);

export function fieldValue(signal: MatchableSignal, field: string): string {
  if (DIRECT_FIELDS.has(field)) {
    const value = signal[field as (typeof MATCHER_FIELDS)[number]];
    return value ?? '';
  }
  const name = field.startsWith('labels.') ? field.slice('labels.'.length) : field;
  return signal.labels[name] ?? '';
}

export type CompiledMatcher = (signal: MatchableSignal) => boolean;

/**
 * Compiles matchers once per rule revision. Regexes are anchored at both ends, as in Prometheus and
 * Alertmanager, so `api-.*` does not match `legacy-api-gateway` by accident.
 */
export function compileMatchers(matchers: readonly Matcher[]): CompiledMatcher {
  const tests = matchers.map((matcher): CompiledMatcher => {
    switch (matcher.op) {
      case '=':
        return (signal) => fieldValue(signal, matcher.field) === matcher.value;
      case '!=':
        return (signal) => fieldValue(signal, matcher.field) !== matcher.value;
      case '=~': {
        const pattern = new RegExp(`^(?:${matcher.value})$`);
        return (signal) => pattern.test(fieldValue(signal, matcher.field));
      }
      case '!~': {
        const pattern = new RegExp(`^(?:${matcher.value})$`);
        return (signal) => !pattern.test(fieldValue(signal, matcher.field));
      }
      case 'in': {
        const values = new Set(matcher.values);
        return (signal) => values.has(fieldValue(signal, matcher.field));
      }
      case '>=': {
        const minimum = SEVERITY_RANK[matcher.value];
        return (signal) => SEVERITY_RANK[signal.severity] >= minimum;
      }
      default:
        return assertNever(matcher);
    }
  });
  return (signal) => tests.every((test) => test(signal));
}

function assertNever(value: never): never {
  throw new Error(`unknown matcher ${JSON.stringify(value)}`);
}
