import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './queue.js';

describe('retryDelayMs', () => {
  it('doubles per attempt with jitter in the upper half, capped at five minutes', () => {
    expect(retryDelayMs(1, () => 0)).toBe(1_000);
    expect(retryDelayMs(1, () => 1)).toBe(2_000);
    expect(retryDelayMs(3, () => 1)).toBe(8_000);
    expect(retryDelayMs(30, () => 1)).toBe(300_000);
    expect(retryDelayMs(30, () => 0)).toBe(150_000);
  });
});
