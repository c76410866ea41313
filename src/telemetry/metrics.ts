/**
 * OPX's own metrics in the Prometheus format (prom-client), served at `/metrics`.
 *
 * Two kinds:
 * - Process metrics, counted where the work happens: signals ingested, detection latency,
 *   investigation and agent durations, and Node's own (`opx_process_*`, `opx_nodejs_*`). Each process
 *   counts its own; Prometheus sums the instances.
 * - Store metrics, read from the database at scrape time (at most every few seconds): incidents by
 *   status and severity, LLM calls, tokens and cost, guardrail violations, validation failures and
 *   retries, alarm states, the budget, and the job queue. They are the same whichever API process is
 *   scraped, so aggregate them with max(), not sum().
 */

import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** This process's metrics: one registry per process, whatever the number of runtimes. */
export const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: 'opx_' });

export const signalsIngested = new Counter({
  name: 'opx_signals_ingested_total',
  help: 'Signals accepted and stored, by source and what ingest did with them (created, repeated, resolved, …).',
  labelNames: ['source', 'action'] as const,
  registers: [processRegistry],
});

export const detectionLatency = new Histogram({
  name: 'opx_detection_latency_seconds',
  help: 'From the earliest signal of a new incident starting to the incident being opened.',
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
  registers: [processRegistry],
});

export const investigationDuration = new Histogram({
  name: 'opx_investigation_duration_seconds',
  help: 'Wall time of an investigation run in this process, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [processRegistry],
});

export const agentDuration = new Histogram({
  name: 'opx_agent_duration_seconds',
  help: "Wall time of one agent's node (engine, and model calls when configured), by agent.",
  labelNames: ['agent'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [processRegistry],
});

/** Runs `work` and observes its wall time in seconds on `histogram`, whether it succeeds or throws. */
export async function timed<T>(
  histogram: { observe(value: number): void },
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    histogram.observe((performance.now() - started) / 1000);
  }
}
