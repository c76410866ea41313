export { compileMatchers, fieldValue, type MatchableSignal, matchesAll } from './matcher.js';
export {
  type CompiledRule,
  compileRules,
  DEFAULT_RULES,
  groupKey,
  groupValues,
  maxSeverity,
  renderTitle,
} from './rules.js';
