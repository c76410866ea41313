import { describe, expect, it } from 'vitest';
import { jsonDifferences } from './json-diff.js';

describe('jsonDifferences', () => {
  it('names each differing leaf by its path, keys in order, and nothing when equal', () => {
    const stored = { findings: [{ agent: 'a', data: { score: 1, tags: ['x'] } }], hash: 'h' };
    expect(jsonDifferences(stored, structuredClone(stored))).toEqual([]);
    const replayed = {
      findings: [{ agent: 'a', data: { score: 2, tags: ['x', 'y'] } }],
      hash: 'h',
      extra: true,
    };
    expect(jsonDifferences(stored, replayed)).toEqual([
      { path: 'extra', stored: undefined, replayed: true },
      { path: 'findings[0].data.score', stored: 1, replayed: 2 },
      { path: 'findings[0].data.tags[1]', stored: undefined, replayed: 'y' },
    ]);
  });

  it('compares objects by content, not key order, and an array against an object as a whole', () => {
    expect(jsonDifferences({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
    expect(jsonDifferences({ list: [1] }, { list: { 0: 1 } }, 'root')).toEqual([
      { path: 'root.list', stored: [1], replayed: { 0: 1 } },
    ]);
  });

  it('stops at 100 differences', () => {
    const left = Array.from({ length: 150 }, (_, index) => index);
    const right = left.map((value) => value + 1);
    expect(jsonDifferences(left, right)).toHaveLength(100);
  });
});
