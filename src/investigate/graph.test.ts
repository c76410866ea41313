import { MemorySaver } from '@langchain/langgraph';
import { describe, expect, it } from 'vitest';
import { shopBundle } from './agents/fixtures.test-support.js';
import { investigationGraph } from './graph.js';

const input = (bundleId: string) => ({
  incidentId: 'inc_shop',
  investigationId: 'inv_test',
  bundleId,
  findings: {},
});

describe('investigation graph', () => {
  it('runs the five evidence agents and response-strategy on the bundle its tool reads', async () => {
    const bundle = shopBundle();
    const reads: string[] = [];
    const graph = investigationGraph({
      toolTimeoutMs: 1_000,
      loadBundle: async (id) => {
        reads.push(id);
        return bundle;
      },
    }).compile(new MemorySaver());
    const state = await graph.invoke(input(bundle.id), { configurable: { thread_id: 't1' } });
    expect(Object.keys(state.findings).sort()).toEqual([
      'change-intelligence',
      'historical-pattern',
      'knowledge-rag',
      'response-strategy',
      'risk-blast-radius',
      'signal-intelligence',
    ]);
    expect(reads).toEqual(Array(6).fill(bundle.id));
  });

  it('fails a node whose tool call runs past the tool time limit', async () => {
    const bundle = shopBundle();
    const graph = investigationGraph({
      toolTimeoutMs: 20,
      loadBundle: () => new Promise((resolve) => setTimeout(() => resolve(bundle), 500)),
    }).compile(new MemorySaver());
    await expect(graph.invoke(input(bundle.id), { configurable: { thread_id: 't2' } })).rejects.toThrow(
      /reading evidence .* took longer than 20 ms/,
    );
  });
});
