import type { StoreScope } from '../store/store.js';
import { runEvery } from '../util/schedule.js';
import type { IngestService } from './service.js';

/** What a sweep needs of the runtime: the ingest service and the write path. */
export interface SweepRuntime {
  ingest: Pick<IngestService, 'sweepSustained'>;
  writes: { run<T>(work: (scope: StoreScope) => Promise<T>): Promise<T> };
}

/** How often a worker looks for signals that became due for a rule with `sustainedSeconds`. */
export const SUSTAINED_SWEEP_MS = 30_000;

/**
 * Sweeps for sustained signals now and every `everyMs` until `signal` aborts (IngestService.sweepSustained),
 * one sweep at a time, each in its own write. Several workers may sweep at once: on PostgreSQL they take
 * turns per environment and each takes only what is still unheld. Resolves once the last sweep is over.
 */
export function scheduleSustainedSweep(
  runtime: SweepRuntime,
  options: { signal: AbortSignal; log: (line: string) => void; everyMs?: number },
): Promise<void> {
  const sweep = () =>
    runtime.writes
      .run((scope) => runtime.ingest.sweepSustained(scope, Date.now()))
      .then(
        (result) => {
          if (result.incidentsCreated.length > 0 || result.incidentsUpdated.length > 0)
            options.log(
              `sustained signals: ${result.signals} correlated, ${result.incidentsCreated.length} incident(s) opened, ${result.incidentsUpdated.length} updated`,
            );
        },
        (error: unknown) =>
          options.log(`the sweep for sustained signals failed: ${(error as Error).message}`),
      );
  return runEvery(options.everyMs ?? SUSTAINED_SWEEP_MS, options.signal, sweep);
}
