export { compileMatchers, fieldValue, type MatchableSignal } from './matcher.js';
export {
  type CompiledRule,
  compileRules,
  DEFAULT_RULES,
  groupKey,
  groupValues,
  maxSeverity,
  renderTitle,
} from './rules.js';
