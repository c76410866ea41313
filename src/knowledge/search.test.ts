import { describe, expect, it } from 'vitest';
import type { KbChunk, KbDocument } from '../store/repositories/knowledge.js';
import { KnowledgeIndex } from './search.js';

function document(id: string, services: string[], alerts: string[], sections: [string, string][]) {
  const doc: KbDocument = {
    id,
    path: `runbooks/${id}.md`,
    title: `${id} runbook`,
    kind: 'runbook',
    services,
    alerts,
    contentHash: id,
    body: sections.map(([heading, text]) => `## ${heading}\n${text}`).join('\n'),
    importedAt: 0,
  };
  const chunks: KbChunk[] = sections.map(([heading, text], ordinal) => ({
    id: `${id}#${ordinal}`,
    documentId: id,
    ordinal,
    heading,
    text,
  }));
  return { doc, chunks };
}

const parts = [
  document(
    'checkout',
    ['checkout'],
    ['HighErrorRate'],
    [
      ['Symptoms', 'checkout returns 5xx; payment timeouts in the logs'],
      ['Mitigation', 'roll back the last checkout deploy; drain the bad pods'],
    ],
  ),
  document(
    'payments-db',
    ['payments-db', 'checkout'],
    ['ConnectionPoolExhausted'],
    [
      ['Symptoms', 'connection pool exhausted; checkout timeouts follow'],
      ['Mitigation', 'raise max connections; kill long transactions'],
    ],
  ),
  document(
    'gateway',
    ['api-gateway'],
    ['HighLatencyP99'],
    [['Symptoms', 'latency at the edge, 5xx upstream']],
  ),
];
const build = () =>
  new KnowledgeIndex(
    parts.map((part) => part.doc),
    parts.flatMap((part) => part.chunks),
  );

describe('KnowledgeIndex.search', () => {
  const query = {
    text: 'checkout 5xx payment timeouts',
    service: 'checkout',
    alert: 'HighErrorRate',
    limit: 5,
  };

  it('answers a repeated query exactly as a fresh index does', () => {
    const index = build();
    const first = index.search(query);
    expect(first.length).toBeGreaterThan(1);
    expect(first[0]?.documentId).toBe('checkout');
    expect(index.search(query)).toEqual(first);
    expect(build().search(query)).toEqual(first);
  });

  it('keeps its answers apart from what a caller does with them', () => {
    const index = build();
    const first = index.search(query);
    const expected = structuredClone(first);
    first[0]!.score = -1;
    first.pop();
    expect(index.search(query)).toEqual(expected);
  });

  it('tells queries apart by every option, not by their text alone', () => {
    const index = build();
    expect(index.search({ ...query, limit: 1 })).toHaveLength(1);
    expect(index.search(query).length).toBeGreaterThan(1);
    const listed = index.search({ ...query, alert: 'ConnectionPoolExhausted', listed: true });
    expect(new Set(listed.map((hit) => hit.documentId))).toEqual(new Set(['payments-db']));
    expect(
      index.search({ ...query, alert: 'ConnectionPoolExhausted' }).map((hit) => hit.documentId),
    ).toContain('checkout');
  });

  it('still answers right after more distinct queries than it keeps', () => {
    const index = build();
    const expected = build().search(query);
    index.search(query);
    for (let n = 0; n < 600; n++) index.search({ text: `timeouts ${n}`, service: 'checkout' });
    expect(index.search(query)).toEqual(expected);
  });
});
