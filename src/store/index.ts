export {
  type ConnectionOptions,
  DEFAULT_LOCK_TIMEOUT_MS,
  type Dialect,
  survivePostgresDisconnects,
} from './connection.js';
export { type StoreFault, storeFault, storeUnavailable } from './faults.js';
export {
  MIGRATION_NAMES,
  MIGRATIONS,
  type MigrationPlan,
  migrationStatements,
  planMigrations,
} from './migrations.js';
export { type ApiToken, type AuditEntry, SCOPES, type Scope } from './repositories/access.js';
export {
  type EventDraft,
  eventHash,
  GENESIS_HASH,
  type IncidentListFilter,
} from './repositories/incidents.js';
export type { SignalRow } from './repositories/signals.js';
export { openStore, ping, type Store, type StoreScope } from './store.js';
