import { describe, expect, it } from 'vitest';
import type { KnowledgeSection } from '../../domain/evidence.js';
import { validateFinding } from '../evidence.js';
import { shopBundle } from './fixtures.test-support.js';
import { analyzeKnowledge, stepsOf } from './knowledge-rag.js';

function section(
  chunkId: string,
  kind: KnowledgeSection['kind'],
  score: number,
  text = 'text',
): KnowledgeSection {
  return {
    chunkId,
    documentId: `doc_${chunkId}`,
    path: `${kind}s/${chunkId}.md`,
    title: chunkId,
    kind,
    heading: `${chunkId} > Mitigation`,
    text,
    score,
    services: ['db'],
    alerts: [],
  };
}

describe('knowledge-rag', () => {
  it('lifts numbered and bulleted steps from a runbook section', () => {
    expect(stepsOf('Intro\n1. Check the pool\n2) Kill idle sessions\n- Page the DBA\nnot a step')).toEqual([
      'Check the pool',
      'Kill idle sessions',
      'Page the DBA',
    ]);
  });

  it('cites the best runbook and postmortem sections, more confident when the winner stands out', () => {
    const clear = shopBundle({
      knowledge: [section('chk_run', 'runbook', 10, '1. Roll back'), section('chk_pm', 'postmortem', 2)],
    });
    const close = shopBundle({
      knowledge: [section('chk_run', 'runbook', 10), section('chk_pm', 'postmortem', 9.5)],
    });
    const finding = analyzeKnowledge(clear);
    expect(finding.claims.map((claim) => claim.evidenceIds)).toEqual([['chk_run'], ['chk_pm']]);
    expect(finding.data.steps).toEqual(['Roll back']);
    expect(finding.confidence).toBeGreaterThan(analyzeKnowledge(close).confidence);
    expect(validateFinding(finding, clear)).toEqual([]);
  });

  it('abstains when nothing was retrieved', () => {
    expect(analyzeKnowledge(shopBundle())).toMatchObject({ insufficientEvidence: true, claims: [] });
  });
});
