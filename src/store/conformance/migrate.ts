import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../migrations.js';
import type { Database } from '../schema.js';
import { type StoreFactory, useStore } from './harness.js';

// A Record over `keyof Database` makes the compiler reject this file when a table is added but not listed.
const TABLES: Record<keyof Database, true> = {
  signals: true,
  detections: true,
  correlation_rules: true,
  candidates: true,
  incidents: true,
  incident_signals: true,
  incident_services: true,
  incident_events: true,
  idempotency: true,
  evidence_bundles: true,
  evidence_graphs: true,
  guardrail_violations: true,
  validation_errors: true,
  llm_traces: true,
  services: true,
  service_dependencies: true,
  changes: true,
  kb_documents: true,
  kb_chunks: true,
  investigations: true,
  recommendations: true,
  alarms: true,
  alarm_history: true,
  jobs: true,
  notification_channels: true,
  notification_routes: true,
  notification_deliveries: true,
  audit_log: true,
  api_tokens: true,
  silences: true,
  sns_subscriptions: true,
};

export function migrationSpecs(init: StoreFactory): void {
  describe('migrate', () => {
    const store = useStore(init);

    it('applies nothing when the store is already at the latest version', async () => {
      expect(await store().migrate()).toEqual({ applied: [], version: MIGRATIONS.length });
      // Twice more: a restart loop must never re-run a migration.
      expect(await store().migrate()).toEqual({ applied: [], version: MIGRATIONS.length });
    });

    it('reports a schema version equal to the number of migrations', async () => {
      expect(await store().schemaVersion()).toBe(MIGRATIONS.length);
    });

    it('creates every table the Database type declares, empty', async () => {
      const counts: Record<string, number> = {};
      for (const table of Object.keys(TABLES) as (keyof Database)[]) {
        const row = await store()
          .db.selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow();
        counts[table] = Number(row.n);
      }
      // Seeding default rules is migrateAndSeed's job; migrate alone must write no rows.
      expect(counts).toEqual(Object.fromEntries(Object.keys(TABLES).map((table) => [table, 0])));
    });
  });
}
