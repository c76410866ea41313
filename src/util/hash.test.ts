import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256 } from './hash.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and otherwise writes what JSON.stringify writes, as earlier releases did', () => {
    const value = {
      b: [3, { z: 1, a: undefined, m: null }, undefined, 'x'],
      a: { d: '2026-01-02T03:04:05.000Z', c: true, é: 1, E: 2, e: 3 },
      skip: undefined,
      f: () => 1,
      n: Number.NaN,
      i: -0,
      s: 'quote " and \\ and \u2028',
    };
    expect(canonicalJson(value)).toBe(
      '{"a":{"E":2,"c":true,"d":"2026-01-02T03:04:05.000Z","e":3,"é":1},' +
        '"b":[3,{"m":null,"z":1},null,"x"],"i":0,"n":null,"s":"quote \\" and \\\\ and \u2028"}',
    );
  });

  it('gives equal text for equal values whatever order their keys were set in', () => {
    const left = { outer: { one: 1, two: [{ y: 2, x: 1 }] }, list: [] };
    const right = { list: [], outer: { two: [{ x: 1, y: 2 }], one: 1 } };
    expect(canonicalJson(left)).toBe(canonicalJson(right));
    expect(sha256(canonicalJson(left))).toBe(sha256(canonicalJson(right)));
  });

  it('keeps the text of values hashed by earlier releases (hash chains and bundle hashes stay valid)', () => {
    // This text and its hash were written by the earlier implementation (sorted copy + JSON.stringify).
    const event = {
      type: 'signal_attached',
      principal: 'system',
      at: 1767225600000,
      data: { signalIds: ['sig_1'], reason: { rule: 'topology', path: ['a', 'b'] } },
    };
    expect(canonicalJson(event)).toBe(
      '{"at":1767225600000,"data":{"reason":{"path":["a","b"],"rule":"topology"},"signalIds":["sig_1"]},"principal":"system","type":"signal_attached"}',
    );
  });

  it('refuses a cycle', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow();
  });
});
