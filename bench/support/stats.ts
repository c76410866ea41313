export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, so every reported value is a latency that was actually observed. */
export function summarizeLatencies(samples: readonly number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const rank = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)]!;
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: round(rank(0.5)),
    p90: round(rank(0.9)),
    p99: round(rank(0.99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sum / sorted.length),
  };
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function mebibytes(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export interface Rate {
  hits: number;
  n: number;
  rate: number | null;
}

/** The share of items `pick` calls a hit; items it answers null for are not counted. */
export function rate<T>(items: readonly T[], pick: (item: T) => boolean | null): Rate {
  let hits = 0;
  let n = 0;
  for (const item of items) {
    const value = pick(item);
    if (value === null) continue;
    n += 1;
    if (value) hits += 1;
  }
  return { hits, n, rate: n === 0 ? null : round(hits / n, 3) };
}
