import { describe, expect, it } from 'vitest';
import type { Finding } from '../domain/finding.js';
import { shopBundle } from '../investigate/agents/fixtures.test-support.js';
import { respond } from '../investigate/agents/response-strategy.js';
import { EVIDENCE_AGENTS } from '../investigate/graph.js';
import { applyGrounding, groundFinding, groundingContext, splitStatements } from './grounding.js';
import { recommendationTrust, THIN_EVIDENCE_CAP, trustOf } from './trust.js';

const bundle = shopBundle();
const context = groundingContext(bundle);

function engineFindings(): Finding[] {
  const findings: Record<string, Finding> = {};
  for (const [name, analyze] of Object.entries(EVIDENCE_AGENTS)) findings[name] = analyze(bundle);
  return [...Object.values(findings), respond(bundle, findings)];
}

const changeFinding = () => engineFindings().find((finding) => finding.agent === 'change-intelligence')!;

function withClaimText(finding: Finding, text: string): Finding {
  return { ...finding, claims: [{ ...finding.claims[0]!, text }, ...finding.claims.slice(1)] };
}

describe('grounding', () => {
  it('splits claims into statements without breaking numbers, ids or paths', () => {
    expect(splitStatements('p99 rose to 2.4 s on api. See runbooks/api.md; restart it.')).toEqual([
      'p99 rose to 2.4 s on api.',
      'See runbooks/api.md',
      'restart it.',
    ]);
  });

  it("supports every statement of the engine's own findings", () => {
    for (const finding of engineFindings()) {
      const grounding = groundFinding(finding, context);
      expect(grounding.unsupported, finding.agent).toEqual([]);
      expect(grounding.score).toBe(1);
      expect(grounding.statements).toBeGreaterThan(0);
    }
  });

  it('flags an invented id, a wrong number, a service not in the topology, a made-up step, a bad time', () => {
    const base = changeFinding();
    const original = base.claims[0]!.text; // "deploy chg_db_deploy on db started 10 minutes before the first signal: …"
    const cases: [string, RegExp][] = [
      [`${original} It follows chg_01m8zzzzzzzzzzzzzzzzzzzzzz.`, /chg_01m8z+ is not in the evidence/],
      [original.replace('10 minutes', '45 minutes'), /45 matches no number/],
      [`${original} ledger-service is affected too.`, /service ledger-service is not in the topology/],
      [
        `${original} The runbook says to run \`kubectl delete pod db-0\`.`,
        /"kubectl delete pod db-0" is not in the cited evidence/,
      ],
      [`${original} It began at 2020-01-01T00:00:00Z.`, /time 2020-01-01T00:00:00Z matches no cited item/],
      [`${original} (confidence 3)`, /3 is out of range/],
    ];
    for (const [text, problem] of cases) {
      const grounding = groundFinding(withClaimText(base, text), context);
      const claim = grounding.unsupported.find((check) => check.source === 'claims[0]');
      expect(claim?.problems.join('; '), text).toMatch(problem);
    }
    // A claim that cites nothing in the bundle is unsupported whatever it says.
    const uncited = { ...base, claims: [{ ...base.claims[0]!, evidenceIds: ['chg_nowhere'] }] };
    expect(groundFinding(uncited, context).unsupported[0]?.problems).toEqual([
      'cites no evidence that exists',
    ]);
  });

  it('flags, downgrades or removes unsupported claims as configured', () => {
    // One wrong claim, then a supported one (the change finding's own first claim).
    const base = changeFinding();
    const bad = {
      ...base,
      claims: [
        {
          ...base.claims[0]!,
          text: 'deploy chg_db_deploy on db started 45 minutes before the first signal.',
        },
        base.claims[0]!,
      ],
    };
    const flagged = applyGrounding(bad, context, 'flag');
    expect(flagged.claims.map((claim) => claim.grounded)).toEqual([false, true]);
    expect(flagged.claims[0]!.confidence).toBe(bad.claims[0]!.confidence);
    expect(flagged.grounding!.score).toBeLessThan(1);
    const downgraded = applyGrounding(bad, context, 'downgrade');
    expect(downgraded.claims[0]!.confidence).toBe(Math.round(bad.claims[0]!.confidence * 50) / 100);
    expect(downgraded.confidence).toBeLessThan(bad.confidence);
    const removed = applyGrounding(bad, context, 'remove');
    expect(removed.claims).toHaveLength(1);
    expect(removed.claims[0]!.grounded).toBe(true);
    const clean = applyGrounding(changeFinding(), context, 'remove');
    expect(clean.claims.every((claim) => claim.grounded)).toBe(true);
    expect(clean.grounding).toMatchObject({ score: 1, unsupported: [] });
  });
});

describe('trust', () => {
  const grounded = () => engineFindings().map((finding) => applyGrounding(finding, context, 'downgrade'));
  const inputs = { bundle, invalidAnswers: 0, degradedAgents: 0, injectionWarnings: 0 };

  it('is high when the findings are grounded, agree and cover the evidence, and falls with each weakness', () => {
    const clean = trustOf({ ...inputs, findings: grounded() });
    expect(clean.abstain).toBe(false);
    expect(clean.components.grounding).toBe(1);
    expect(clean.score).toBeGreaterThan(0.7);
    const shaky = trustOf({
      ...inputs,
      findings: grounded(),
      invalidAnswers: 2,
      degradedAgents: 1,
      injectionWarnings: 1,
    });
    expect(shaky.score).toBeLessThan(clean.score);
    expect(shaky.reasons.join(' ')).toMatch(/fell back to the engine.*prompt-injection/s);
    const ungrounded = grounded().map((finding) => ({
      ...finding,
      grounding: {
        score: 0,
        statements: 4,
        unsupported: Array.from({ length: 4 }, () => ({
          source: 'summary',
          text: 'x',
          supported: false,
          problems: ['p'],
        })),
      },
    }));
    const bad = trustOf({ ...inputs, findings: ungrounded });
    expect(bad.abstain).toBe(true);
    expect(bad.reasons[0]).toMatch(/OPX abstains/);
  });

  it('abstains when the evidence agents had too little to go on', () => {
    const thin = grounded().map((finding) => ({
      ...finding,
      insufficientEvidence: finding.agent !== 'signal-intelligence',
    }));
    const trust = trustOf({ ...inputs, findings: thin });
    expect(trust.abstain).toBe(true);
    expect(trust.components.coverage).toBe(0.2);
  });

  it('cannot be high when most evidence agents had no evidence', () => {
    const silent = (agents: string[]) =>
      grounded().map((finding) => ({ ...finding, insufficientEvidence: agents.includes(finding.agent) }));
    const full = trustOf({ ...inputs, findings: grounded() });
    // Two of five spoke, and they agree: without the cap that would read 0.8.
    const two = trustOf({
      ...inputs,
      findings: silent(['signal-intelligence', 'historical-pattern', 'knowledge-rag']),
    });
    expect(two.components).toMatchObject({ grounding: 1, agreement: 1, coverage: 0.4 });
    expect(two.score).toBeCloseTo(THIN_EVIDENCE_CAP.base + 2 * THIN_EVIDENCE_CAP.step, 10);
    expect(two.reasons).toContain('trust capped at 0.6: most evidence agents had no evidence (2 of 5 had)');
    const one = trustOf({
      ...inputs,
      findings: silent(['signal-intelligence', 'historical-pattern', 'knowledge-rag', 'change-intelligence']),
    });
    expect(one.score).toBe(0.5);
    // Three of five is a majority: no cap.
    const three = trustOf({ ...inputs, findings: silent(['historical-pattern', 'knowledge-rag']) });
    expect(three.score).toBeGreaterThan(0.75);
    expect(three.score).toBeLessThanOrEqual(full.score);
  });

  it('counts a load-raising change on a caller as pointing at the origin it loads', () => {
    const suspectOn =
      (target: string) =>
      (finding: Finding): Finding =>
        finding.agent === 'change-intelligence'
          ? {
              ...finding,
              data: {
                ranked: [
                  { ...finding.data.ranked[0]!, service: 'api', target, changeId: 'chg_x', score: 0.5 },
                ],
              },
            }
          : finding;
    const findings = grounded().map(suspectOn('db'));
    expect(trustOf({ ...inputs, findings }).components.agreement).toBe(1);
    const plain = findings.map(suspectOn('api'));
    expect(trustOf({ ...inputs, findings: plain }).components.agreement).toBeLessThan(1);
  });

  it("scales a recommendation's trust by its confidence and by whether its citations exist", () => {
    const trust = trustOf({ ...inputs, findings: grounded() });
    const ids = context.ids;
    const sure = recommendationTrust(trust, { confidence: 1, citations: ['chg_db_deploy'] }, ids);
    const unsure = recommendationTrust(trust, { confidence: 0.2, citations: ['chg_db_deploy'] }, ids);
    const invented = recommendationTrust(trust, { confidence: 1, citations: ['chg_invented'] }, ids);
    expect(sure).toBe(trust.score);
    expect(unsure).toBeLessThan(sure);
    expect(invented).toBe(0);
  });
});
