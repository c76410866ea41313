import type { LanguageModelDeps } from './index.js';

/**
 * Retry dependencies for tests: `sleep` records the wait and returns at once, advancing a clock that is
 * real time plus the waits, so Retry-After and back-off are asserted without waiting for them.
 */
export function testRetryDeps(options: { random?: number; start?: number } = {}): {
  deps: LanguageModelDeps;
  sleeps: number[];
  now: () => number;
} {
  const sleeps: number[] = [];
  const origin = Date.now();
  const start = options.start ?? origin;
  let offset = 0;
  const now = () => start + (Date.now() - origin) + offset;
  return {
    sleeps,
    now,
    deps: {
      retry: {
        now,
        random: () => options.random ?? 0.5,
        sleep: async (ms, signal) => {
          signal?.throwIfAborted();
          sleeps.push(ms);
          offset += ms;
        },
      },
    },
  };
}
