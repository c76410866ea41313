import { decodeTime } from 'ulid';
import { describe, expect, it } from 'vitest';
import { MAX_TIMESTAMP, newId, timestampSchema, toIso } from './common.js';

const timeOf = (id: string) => decodeTime(id.slice(id.indexOf('_') + 1).toUpperCase());

describe('newId', () => {
  it('takes the record time, but never one later than now, so a far-future time cannot poison later ids', () => {
    const past = Date.UTC(2026, 0, 1);
    expect(timeOf(newId('change', past))).toBeGreaterThanOrEqual(past);
    const before = Date.now();
    expect(() => newId('change', 281474976710656)).not.toThrow();
    newId('change', Date.UTC(9999, 0, 1));
    const next = newId('signal');
    expect(timeOf(next)).toBeLessThanOrEqual(Date.now());
    expect(timeOf(next)).toBeGreaterThanOrEqual(before);
  });

  it('draws fresh random parts across refills of its random pool, unique and in creation order', () => {
    // Each new millisecond takes 16 random characters (16 bytes of the 4 KiB pool): 300 of them refill it.
    const ids: string[] = [];
    const fresh: string[] = [];
    let last = Date.now();
    while (fresh.length < 300) {
      const now = Date.now();
      const id = newId('signal', now);
      ids.push(id);
      if (now > last) fresh.push(id.slice(-16));
      last = now;
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(fresh).size).toBe(fresh.length);
    // Every character of the alphabet turns up in the random parts.
    expect(new Set(fresh.join('')).size).toBe(32);
  });

  it('ignores a time that is not a number of milliseconds', () => {
    expect(() => newId('signal', Number.NaN)).not.toThrow();
    expect(() => newId('signal', -5)).not.toThrow();
  });
});

describe('toIso', () => {
  it('shows a stored time past what a Date holds at the bound instead of throwing', () => {
    expect(toIso(2 ** 53 - 1)).toBe('+275760-09-13T00:00:00.000Z');
    expect(toIso(-(2 ** 53 - 1))).toBe('-271821-04-20T00:00:00.000Z');
    expect(toIso(Number.NaN)).toBe('1970-01-01T00:00:00.000Z');
    expect(toIso(Date.UTC(2026, 11, 5))).toBe('2026-12-05T00:00:00.000Z');
    expect(toIso(null)).toBeNull();
  });
});

describe('timestampSchema', () => {
  it('accepts ISO-8601 with a zone and epoch milliseconds up to the last time a Date holds', () => {
    expect(timestampSchema.parse('2026-12-01T12:00:00+0000')).toBe(Date.UTC(2026, 11, 1, 12));
    expect(timestampSchema.parse(MAX_TIMESTAMP)).toBe(MAX_TIMESTAMP);
    expect(new Date(MAX_TIMESTAMP).toISOString()).toBe('+275760-09-13T00:00:00.000Z');
  });

  it('refuses days a month does not have instead of rolling them over, and keeps leap days', () => {
    expect(timestampSchema.safeParse('2026-02-30T00:00:00Z').success).toBe(false);
    expect(timestampSchema.safeParse('2026-04-31T10:00:00+00:00').success).toBe(false);
    expect(timestampSchema.safeParse('2026-00-10T10:00:00Z').success).toBe(false);
    expect(timestampSchema.parse('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
    expect(timestampSchema.safeParse('2027-02-29T00:00:00Z').success).toBe(false);
    expect(timestampSchema.parse('2026-12-31T23:59:59Z')).toBe(Date.UTC(2026, 11, 31, 23, 59, 59));
  });

  it('refuses a number past it, which could never be shown again', () => {
    const parsed = timestampSchema.safeParse(MAX_TIMESTAMP + 1);
    expect(parsed.success).toBe(false);
    expect(timestampSchema.safeParse(2 ** 53 - 1).success).toBe(false);
  });
});
