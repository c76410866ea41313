import { DEFAULT_POLICY, guard, type Policy } from './engine.js';
import { type ContentResult, filterContent } from './injection.js';

/** What `POST /v1/guardrails/check` and `opx guardrails check` report for one text. */
export interface CheckReport {
  /** What the PII and secret policy does with the text: allow, anonymize, or block. */
  action: 'allow' | 'anonymize' | 'block';
  /** Each match, with offsets into the text; the values themselves are not repeated. */
  entities: { type: string; start: number; end: number; score: number; mode: 'BLOCK' | 'ANONYMIZE' }[];
  redacted: string;
  /** Set when the guardrail itself failed (the text is then blocked). */
  reason?: string;
  /** Prompt-injection findings (warn by default; they do not change `action`). */
  content: ContentResult;
}

/** Runs the guardrails on one text, failing closed. */
export function checkText(text: string, policy: Policy = DEFAULT_POLICY): CheckReport {
  const result = guard(text, policy);
  return {
    action: result.action,
    entities: result.entities.map(({ type, start, end, score, mode }) => ({ type, start, end, score, mode })),
    redacted: result.redacted,
    ...(result.reason ? { reason: result.reason } : {}),
    content: filterContent(text),
  };
}
