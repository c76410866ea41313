import { describe, expect, it } from 'vitest';
import { randomByteFraction, randomBytesPooled } from './random.js';

describe('randomBytesPooled', () => {
  it('hands out every byte once, across refills, and returns copies the pool cannot overwrite', () => {
    // 12-byte draws as the nonces take them: 1,000 of them cross the 4 KiB pool about three times.
    const draws = Array.from({ length: 1000 }, () => randomBytesPooled(12));
    const hex = draws.map((draw) => Buffer.from(draw).toString('hex'));
    expect(new Set(hex).size).toBe(draws.length);
    expect(draws.every((draw) => draw.length === 12)).toBe(true);
    // A later refill leaves earlier draws as they were.
    const before = hex[0];
    for (let index = 0; index < 500; index += 1) randomBytesPooled(12);
    expect(Buffer.from(draws[0]!).toString('hex')).toBe(before);
    // Every byte value turns up: the bytes are the source's, not a pattern.
    expect(new Set(draws.flatMap((draw) => [...draw])).size).toBe(256);
  });

  it('refuses a draw larger than the pool', () => {
    expect(() => randomBytesPooled(4097)).toThrow(RangeError);
  });
});

describe('randomByteFraction', () => {
  it('yields fractions of 256 in [0, 1)', () => {
    const values = Array.from({ length: 5000 }, () => randomByteFraction());
    expect(values.every((value) => value >= 0 && value < 1 && Number.isInteger(value * 256))).toBe(true);
    expect(new Set(values).size).toBe(256);
  });
});
