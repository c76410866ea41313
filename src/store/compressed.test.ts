import { describe, expect, it } from 'vitest';
import { OpxError } from '../domain/errors.js';
import { compressText, expandText } from './compressed.js';

describe('compressed text', () => {
  const json = JSON.stringify({
    title: 'checkout: 5xx — naïve “quotes” and emoji 🚨',
    history: Array.from({ length: 200 }, (_, index) => ({
      id: `inc_${index}`,
      title: `payments-db connection pool exhausted on shard ${index % 7}`,
      services: ['payments-db', 'payment-service', 'checkout-service'],
    })),
  });

  it('round-trips text exactly, in far fewer characters', () => {
    const stored = compressText(json);
    expect(stored.startsWith('br:')).toBe(true);
    expect(stored.length).toBeLessThan(json.length / 5);
    expect(expandText(stored, 'evidence_bundles.content')).toBe(json);
  });

  it('returns a value stored before compression as it is', () => {
    expect(expandText(json, 'evidence_bundles.content')).toBe(json);
    expect(expandText('', 'evidence_bundles.content')).toBe('');
  });

  it('refuses altered compressed text, naming the column', () => {
    const stored = compressText(json);
    const altered = `br:${Buffer.from('not brotli at all').toString('base64')}`;
    expect(() => expandText(altered, 'evidence_bundles.content')).toThrow(OpxError);
    expect(() => expandText(altered, 'evidence_bundles.content')).toThrow(/evidence_bundles\.content/);
    expect(() => expandText(stored.slice(0, stored.length / 2), 'evidence_bundles.content')).toThrow(
      /not valid compressed text/,
    );
  });
});
