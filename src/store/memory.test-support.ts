import { compileRules, DEFAULT_RULES } from '../detect/rules.js';
import { signalInputSchema } from '../domain/signal.js';
import { dedupKey, ingestSignals, signalRow } from '../ingest/pipeline.js';
import type { SignalRow } from './repositories/signals.js';
import { openStore, type Store, type StoreScope } from './store.js';

/**
 * An in-memory SQLite store with the shipped rules and one incident, opened by a critical signal on
 * `service` through the real ingest pipeline: for unit tests of what happens to an incident later.
 */
export async function storeWithIncident(
  service = 'checkout',
  at = Date.UTC(2026, 11, 1, 12),
  extra: { annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): Promise<{ store: Store; incidentId: string; at: number }> {
  const store = await openStore(':memory:');
  await store.migrate();
  await store.transaction(async (scope) => {
    for (const rule of DEFAULT_RULES) await scope.rules.create(rule, { now: at });
  });
  const rules = compileRules(await store.rules.list());
  const input = signalInputSchema.parse({
    service,
    severity: 'critical',
    title: `${service} 5xx above 20%`,
    startsAt: new Date(at).toISOString(),
    annotations: extra.annotations ?? {},
    labels: extra.labels ?? {},
  });
  const result = await store.transaction((scope) =>
    ingestSignals(scope, [{ ...input, fingerprint: `${service}-5xx` }], {
      principal: 'test',
      now: at,
      settings: { autoResolve: true, reopenGraceMs: 0 },
      rules,
      silences: [],
    }),
  );
  const incidentId = result.signals[0]?.incidentIds[0];
  if (!incidentId) throw new Error('the critical signal opened no incident');
  return { store, incidentId, at };
}

/**
 * Firing signals stored as ingestion stores them (not yet correlated), one second apart from `at`, for
 * unit tests of correlation and incident batches.
 */
export async function storeSignals(
  scope: StoreScope,
  specs: readonly {
    service: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    environment?: string;
  }[],
  at: number,
): Promise<SignalRow[]> {
  const rows = specs.map((spec, index) => {
    const input = signalInputSchema.parse({
      service: spec.service,
      severity: spec.severity,
      environment: spec.environment ?? 'prod',
      title: `${spec.service} errors`,
      startsAt: new Date(at + index * 1000).toISOString(),
    });
    const draft = { ...input, fingerprint: `${spec.service}-${at}-${index}` };
    return signalRow(draft, dedupKey(draft.source, draft.fingerprint), at, []);
  });
  await scope.signals.insertMany(rows);
  return rows;
}
