import { describe, expect, it } from 'vitest';
import {
  boundedFingerprint,
  cleanLinks,
  clip,
  environmentFromLabels,
  normalizeSeverity,
  readOptionalTimestamp,
  regionFromLabels,
  serviceFromLabels,
} from './normalize.js';

describe('normalizeSeverity', () => {
  it.each([
    ['critical', 'critical'],
    ['PAGE', 'critical'],
    ['P1', 'critical'],
    ['SEV-1', 'critical'],
    ['fatal', 'critical'],
    ['emergency', 'critical'],
    ['error', 'error'],
    ['High', 'error'],
    ['major', 'error'],
    ['p2', 'error'],
    ['sev2', 'error'],
    ['warning', 'warning'],
    ['warn', 'warning'],
    ['medium', 'warning'],
    ['minor', 'warning'],
    ['p3', 'warning'],
    ['sev_3', 'warning'],
    ['info', 'info'],
    ['low', 'info'],
    ['none', 'info'],
    ['ok', 'info'],
    ['p4', 'info'],
    ['P5', 'info'],
    ['sev4', 'info'],
    ['informational', 'info'],
    ['bananas', 'warning'],
    [undefined, 'warning'],
    [3, 'warning'],
  ])('maps %j to %s', (word, severity) => {
    expect(normalizeSeverity(word)).toBe(severity);
  });
});

describe('label lookups', () => {
  it('finds the service in the documented order', () => {
    expect(serviceFromLabels({ namespace: 'shop', job: 'node', app: 'cart' })).toBe('cart');
    expect(serviceFromLabels({ namespace: 'shop', app_kubernetes_io_name: 'web' })).toBe('web');
    expect(serviceFromLabels({ namespace: 'shop', job: ' ' })).toBe('shop');
    expect(serviceFromLabels({})).toBeUndefined();
  });

  it('finds environment and region', () => {
    expect(environmentFromLabels({ stage: 'dev', environment: 'staging' })).toBe('staging');
    expect(environmentFromLabels({})).toBeUndefined();
    expect(regionFromLabels({ aws_region: 'eu-west-1' })).toBe('eu-west-1');
  });
});

describe('clip', () => {
  it('leaves short text alone and marks a cut', () => {
    expect(clip('abc', 3)).toBe('abc');
    expect(clip('abcdef', 4)).toBe('abc…');
  });

  it('never splits a surrogate pair', () => {
    const clipped = clip(`ab${'😀'.repeat(5)}`, 4);
    expect(clipped).toBe('ab…');
    expect(clipped.length).toBeLessThanOrEqual(4);
  });
});

describe('cleanLinks', () => {
  it('keeps http(s) links, drops blanks, duplicates and other schemes, and caps the count', () => {
    expect(
      cleanLinks([
        { href: '' },
        { href: 'javascript:alert(1)', text: 'x' },
        { href: 'https://a.example/', text: '  ' },
        { href: 'https://a.example/', text: 'again' },
        { href: 42 },
        { href: `https://b.example/${'x'.repeat(2100)}` },
        { href: 'http://c.example', text: 'c' },
      ]),
    ).toEqual([{ href: 'https://a.example/' }, { href: 'http://c.example', text: 'c' }]);
    const many = Array.from({ length: 30 }, (_, index) => ({ href: `https://x.example/${index}` }));
    expect(cleanLinks(many)).toHaveLength(20);
  });
});

describe('readOptionalTimestamp', () => {
  it('reads the spellings sources use', () => {
    expect(readOptionalTimestamp('2015-06-03T17:43:27.123+0000', [])).toBe(
      Date.UTC(2015, 5, 3, 17, 43, 27, 123),
    );
    expect(readOptionalTimestamp('2026-11-26T21:46:30Z', [])).toBe(Date.UTC(2026, 10, 26, 21, 46, 30));
    expect(readOptionalTimestamp('0001-01-01T00:00:00Z', [])).toBeUndefined();
    expect(readOptionalTimestamp(null, [])).toBeUndefined();
    expect(readOptionalTimestamp(1_700_000_000_000, [])).toBe(1_700_000_000_000);
  });

  it('rejects what it cannot read, naming the path', () => {
    expect(() => readOptionalTimestamp('1900-01-01T00:00:00Z', ['a', 0])).toThrow(/a\[0\]/);
    expect(() => readOptionalTimestamp(1.5, ['at'])).toThrow(/at must be/);
    expect(() => readOptionalTimestamp({}, ['at'])).toThrow(/at must be/);
  });
});

describe('boundedFingerprint', () => {
  it('keeps identifiers that fit and hashes the tail of those that do not', () => {
    expect(boundedFingerprint('abc')).toBe('abc');
    const long = boundedFingerprint('a'.repeat(300));
    expect(long.length).toBeLessThanOrEqual(256);
    expect(long.startsWith('a'.repeat(180))).toBe(true);
    expect(boundedFingerprint(`${'a'.repeat(300)}b`)).not.toBe(long);
  });
});
