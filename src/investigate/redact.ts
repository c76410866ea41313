import type { Finding } from '../domain/finding.js';
import { Anonymizer, DEFAULT_POLICY, guard } from '../guardrails/engine.js';

/**
 * The text of a finding that a human reads (summary, claims, recommendation titles and rationales, the
 * channel summary) passed through the guardrails: personal data and credentials become placeholders,
 * consistent within the finding. Evidence quoted from alerts is attacker- and customer-controlled, so
 * this applies to the deterministic engine's findings as much as to a model's. Fails closed: text the
 * guardrails cannot check is withheld.
 */
export function redactFinding<F extends Finding>(finding: F): F {
  const session = new Anonymizer();
  const clean = (text: string): string => {
    const result = guard(text, DEFAULT_POLICY, session);
    if (result.reason) return '(withheld: the guardrails could not check this text)';
    return result.action === 'allow' ? text : result.redacted;
  };
  const own: Finding = finding;
  // Of the structured data, only response-strategy's recommendations and channel summary are prose.
  const data =
    own.agent === 'response-strategy'
      ? {
          ...own.data,
          recommendations: own.data.recommendations.map((draft) => ({
            ...draft,
            title: clean(draft.title),
            rationale: clean(draft.rationale),
          })),
          channelSummary: clean(own.data.channelSummary),
        }
      : { ...own.data };
  return {
    ...finding,
    summary: clean(finding.summary),
    claims: finding.claims.map((claim) => ({ ...claim, text: clean(claim.text) })),
    data,
  };
}
