import type { EvidenceBundle, KnowledgeSection } from '../../domain/evidence.js';
import type { Claim, FindingOf } from '../../domain/finding.js';
import { MITIGATION_HEADING } from '../../knowledge/search.js';
import { DETERMINISTIC_ENGINE } from '../evidence.js';

/** Numbered or bulleted lines: the actionable steps of a runbook section, in order. */
export function stepsOf(text: string, limit = 5): string[] {
  return text
    .split('\n')
    .map((line) => /^\s*(?:\d+[.)]|[-*])\s+(.+)$/.exec(line)?.[1]?.trim())
    .filter((step): step is string => Boolean(step))
    .slice(0, limit);
}

/**
 * Knowledge retrieval: the sections frozen into the bundle were ranked by BM25 with the incident's
 * services and alert names boosted (src/knowledge/search.ts); this agent picks the best runbook and
 * postmortem and lifts the runbook section's steps. A section cites its chunk id.
 */
export function analyzeKnowledge(bundle: EvidenceBundle): FindingOf<'knowledge-rag'> {
  const sections = bundle.knowledge;
  const runbook = sections.find((section) => section.kind === 'runbook');
  const postmortem = sections.find((section) => section.kind === 'postmortem');
  const ranked = sections.map(({ text: _text, ...section }) => section);
  if (!runbook && !postmortem) {
    return {
      agent: 'knowledge-rag',
      summary: 'No runbook or postmortem matches this incident.',
      claims: [],
      data: { ranked, steps: [] },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const top = sections[0]!;
  // The top score's lead over the next distinct document: a clear winner deserves more trust. The
  // bundle puts the runbook for a fired alert first even when a postmortem scored higher: no lead, 0.5.
  const runnerUp = sections.find((section) => section.documentId !== top.documentId);
  const lead = runnerUp ? Math.max(0, 1 - runnerUp.score / top.score) : undefined;
  const confidence = Math.round(Math.min(0.9, lead === undefined ? 0.7 : 0.5 + 0.4 * lead) * 100) / 100;
  const claims: Claim[] = [];
  const cite = (section: KnowledgeSection, what: string): Claim => ({
    text: `${what} ${section.path}, section "${section.heading}".`,
    evidenceIds: [section.chunkId],
    confidence: section === top ? confidence : Math.round(confidence * 0.8 * 100) / 100,
  });
  if (runbook) claims.push(cite(runbook, 'Runbook that applies:'));
  if (postmortem) claims.push(cite(postmortem, 'Closest postmortem:'));
  // Steps come from the runbook's mitigation section when the bundle holds it; symptoms are not actions.
  const actions = runbook
    ? (sections.find(
        (section) => section.documentId === runbook.documentId && MITIGATION_HEADING.test(section.heading),
      ) ?? runbook)
    : undefined;
  const steps = actions ? stepsOf(actions.text) : [];
  return {
    agent: 'knowledge-rag',
    summary: runbook
      ? `Follow ${runbook.title} (${runbook.heading}).`
      : `No runbook; see postmortem ${postmortem!.title}.`,
    claims,
    data: {
      ranked,
      steps,
      runbook: actions ? { chunkId: actions.chunkId, path: actions.path, heading: actions.heading } : null,
    },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
