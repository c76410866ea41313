import {
  DummyDriver,
  Kysely,
  type Migration,
  type MigrationProvider,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely';
import { newId } from '../domain/common.js';
import type { Dialect } from './connection.js';

export interface OpxMigration {
  /** What the migration changes, in one line an operator reads in `opx migrate --dry-run`. */
  summary: string;
  up(db: Kysely<unknown>): Promise<void>;
}

/**
 * Append-only: a migration's position in this list is its version. Never edit a shipped entry's `up`;
 * add one. Column types are chosen so one definition works on SQLite and PostgreSQL: text, bigint
 * (epoch ms), integer (0/1 flags and counts), double precision (costs, scores).
 */
export const MIGRATIONS: readonly OpxMigration[] = [
  {
    summary: 'the initial schema: every table OPX keeps, with its indexes',
    up: initialSchema,
  },
  {
    summary:
      'llm_traces gains investigation_id, and indexes on it and on created_at, for token analytics; the unused token_usage table is dropped',
    up: usageFromTraces,
  },
  {
    summary: 'audit_log is indexed by principal and by target, newest first',
    up: auditLookups,
  },
  {
    summary:
      'correlation over the topology: incidents gain root_service, merged_into and last_signal_at; each incident signal records why it joined and whether a human placed it; stores with rules get the built-in service-topology rule',
    up: topologyCorrelation,
  },
  {
    summary: 'kb_documents gains front_matter: the front-matter keys OPX does not read, kept as imported',
    up: keptFrontMatter,
  },
  {
    summary:
      'notifications: channels (secrets encrypted), routes, and one delivery row per message sent or to send',
    up: notifications,
  },
  {
    summary:
      'incident_events is indexed by type and time, so a search reads the newest notes without a full scan',
    up: eventsByType,
  },
  {
    summary:
      'the built-in service-topology rule also opens an incident for errors on two directly connected services (opens), as in a new store',
    up: cascadeOpening,
  },
  {
    summary:
      'stores with rules get the built-in sustained-error rule (an error still firing 5 minutes after it arrived opens an incident), on as in a new store',
    up: sustainedErrors,
  },
];

/** Kysely's bookkeeping tables: which migrations ran, and the lock one migrating process holds. */
export const MIGRATION_TABLE = 'opx_migrations';
export const MIGRATION_LOCK_TABLE = 'opx_migrations_lock';

/** A migration's name is its version, zero-padded so that name order (Kysely's) is list order. */
export function migrationName(index: number): string {
  return `${String(index).padStart(4, '0')}`;
}

export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((_, index) => migrationName(index));

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    const migrations: Record<string, Migration> = {};
    MIGRATIONS.forEach(({ up }, index) => {
      migrations[migrationName(index)] = { up };
    });
    return migrations;
  },
};

export interface MigrationPlan {
  /** How many of this release's migrations the store has applied. */
  version: number;
  /** What `migrate()` would apply, in order. */
  pending: string[];
  /** Why `migrate()` would refuse, when it would. */
  refusal?: string;
}

/**
 * What migrating a store that has applied `executed` would do, by the rules Kysely's migrator
 * enforces: every applied migration must be one this release knows, and the applied ones must be the
 * first ones of the list (a migration is never inserted before one already applied).
 */
export function planMigrations(executed: readonly string[]): MigrationPlan {
  const applied = new Set(executed);
  const unknown = [...applied].filter((name) => !MIGRATION_NAMES.includes(name)).sort();
  const version = MIGRATION_NAMES.filter((name) => applied.has(name)).length;
  const pending = MIGRATION_NAMES.filter((name) => !applied.has(name));
  if (unknown.length > 0) {
    return {
      version,
      pending,
      refusal:
        `the store has applied migration${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}, which this release ` +
        `does not have (it knows ${MIGRATION_NAMES[0]}-${MIGRATION_NAMES.at(-1)}): it was migrated by a newer OPX ` +
        'release. Run that release, or restore the backup taken before its migration.',
    };
  }
  const gap = MIGRATION_NAMES.slice(0, version).find((name) => !applied.has(name));
  if (gap !== undefined) {
    return {
      version,
      pending,
      refusal: `the store has applied migrations after ${gap} but not ${gap} itself; migrations must apply in order`,
    };
  }
  return { version, pending };
}

/**
 * The SQL a migration runs on a dialect, compiled without a database: the migration runs against a
 * driver that executes nothing and answers every query with no rows. A migration that reads rows to
 * decide what to write therefore shows what it would write where the read finds nothing;
 * `opx migrate --dry-run` says so next to it.
 */
export async function migrationStatements(name: string, dialect: Dialect): Promise<string[]> {
  const index = MIGRATION_NAMES.indexOf(name);
  const migration = MIGRATIONS[index];
  if (migration === undefined) throw new Error(`no migration ${name}`);
  const statements: string[] = [];
  const db = new Kysely<unknown>({
    dialect:
      dialect === 'sqlite'
        ? {
            createAdapter: () => new SqliteAdapter(),
            createDriver: () => new DummyDriver(),
            createIntrospector: (inner) => new SqliteIntrospector(inner),
            createQueryCompiler: () => new SqliteQueryCompiler(),
          }
        : {
            createAdapter: () => new PostgresAdapter(),
            createDriver: () => new DummyDriver(),
            createIntrospector: (inner) => new PostgresIntrospector(inner),
            createQueryCompiler: () => new PostgresQueryCompiler(),
          },
    log: (event) => {
      const { sql, parameters } = event.query;
      statements.push(parameters.length > 0 ? `${sql} -- parameters ${JSON.stringify(parameters)}` : sql);
    },
  });
  try {
    await migration.up(db);
  } finally {
    await db.destroy();
  }
  return statements;
}

const TIME = 'bigint';
const FLOAT = 'double precision';

async function initialSchema(db: Kysely<unknown>): Promise<void> {
  const schema = db.schema;

  await schema
    .createTable('signals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('dedup_key', 'text', (c) => c.notNull())
    .addColumn('open_key', 'text', (c) => c.unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('region', 'text')
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('annotations', 'text', (c) => c.notNull())
    .addColumn('metric', 'text')
    .addColumn('links', 'text', (c) => c.notNull())
    .addColumn('starts_at', TIME, (c) => c.notNull())
    .addColumn('ends_at', TIME)
    .addColumn('received_at', TIME, (c) => c.notNull())
    .addColumn('last_seen_at', TIME, (c) => c.notNull())
    .addColumn('occurrences', 'integer', (c) => c.notNull())
    .addColumn('acknowledged_at', TIME)
    .addColumn('suppressed_by', 'text')
    .addColumn('raw', 'text')
    .execute();
  // Few indexes on purpose: every signal pays for each one on insert. Firing dedup goes through
  // open_key; re-sent resolves are matched by dedup key and start time.
  await schema
    .createIndex('signals_dedup_starts')
    .on('signals')
    .columns(['dedup_key', 'starts_at'])
    .execute();
  await schema
    .createIndex('signals_service_received')
    .on('signals')
    .columns(['service', 'received_at'])
    .execute();
  await schema.createIndex('signals_received').on('signals').column('received_at').execute();

  await schema
    .createTable('correlation_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('definition', 'text', (c) => c.notNull())
    .addColumn('built_in', 'integer', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .addColumn('deleted_at', TIME)
    .execute();

  await schema
    .createTable('candidates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('group_values', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('open_key', 'text', (c) => c.unique())
    .addColumn('first_at', TIME, (c) => c.notNull())
    .addColumn('last_at', TIME, (c) => c.notNull())
    .addColumn('detection_count', 'integer', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema.createIndex('candidates_incident').on('candidates').column('incident_id').execute();

  await schema
    .createTable('detections')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('rule_version', 'integer', (c) => c.notNull())
    .addColumn('signal_id', 'text', (c) => c.notNull())
    .addColumn('candidate_id', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('at', TIME, (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    // Signal first, so the same index serves "detections of a signal".
    .addUniqueConstraint('detections_signal_rule', ['signal_id', 'rule_id'])
    .execute();
  await schema
    .createIndex('detections_candidate_at')
    .on('detections')
    .columns(['candidate_id', 'at'])
    .execute();
  await schema.createIndex('detections_incident').on('detections').column('incident_id').execute();

  await schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('services', 'text', (c) => c.notNull())
    .addColumn('environment', 'text')
    .addColumn('correlation_key', 'text', (c) => c.notNull())
    .addColumn('active_key', 'text', (c) => c.unique())
    .addColumn('rule_id', 'text')
    .addColumn('started_at', TIME, (c) => c.notNull())
    .addColumn('detected_at', TIME, (c) => c.notNull())
    .addColumn('acknowledged_at', TIME)
    .addColumn('mitigated_at', TIME)
    .addColumn('resolved_at', TIME)
    .addColumn('closed_at', TIME)
    .addColumn('signals_resolved_at', TIME)
    .addColumn('root_cause', 'text')
    .addColumn('resolution', 'text')
    .addColumn('signal_count', 'integer', (c) => c.notNull())
    .addColumn('last_event_seq', 'integer', (c) => c.notNull())
    .addColumn('last_event_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('incidents_status_detected')
    .on('incidents')
    .columns(['status', 'detected_at'])
    .execute();
  await schema.createIndex('incidents_detected').on('incidents').columns(['detected_at', 'id']).execute();
  await schema
    .createIndex('incidents_correlation_resolved')
    .on('incidents')
    .columns(['correlation_key', 'resolved_at'])
    .execute();

  await schema
    .createTable('incident_signals')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('signal_id', 'text', (c) => c.notNull())
    .addColumn('attached_at', TIME, (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_signals_pk', ['incident_id', 'signal_id'])
    .execute();
  await schema.createIndex('incident_signals_signal').on('incident_signals').column('signal_id').execute();

  await schema
    .createTable('incident_services')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_services_pk', ['incident_id', 'service'])
    .execute();
  await schema.createIndex('incident_services_service').on('incident_services').column('service').execute();

  await schema
    .createTable('incident_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('at', TIME, (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addUniqueConstraint('incident_events_seq', ['incident_id', 'seq'])
    .execute();

  await schema
    .createTable('idempotency')
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_pk', ['principal', 'key'])
    .execute();
  await schema.createIndex('idempotency_created').on('idempotency').column('created_at').execute();

  await schema
    .createTable('evidence_bundles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('as_of', TIME, (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('evidence_bundles_incident')
    .on('evidence_bundles')
    .columns(['incident_id', 'as_of'])
    .execute();

  await schema
    .createTable('evidence_graphs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('bundle_id', 'text', (c) => c.notNull().unique())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();

  await schema
    .createTable('guardrail_violations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text')
    .addColumn('agent', 'text')
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('entity_type', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('location', 'text', (c) => c.notNull())
    .addColumn('value_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('guardrail_violations_created')
    .on('guardrail_violations')
    .column('created_at')
    .execute();

  await schema
    .createTable('validation_errors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text')
    .addColumn('agent', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('errors', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('validation_errors_created')
    .on('validation_errors')
    .column('created_at')
    .execute();

  await schema
    .createTable('llm_traces')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text')
    .addColumn('agent', 'text')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('prompt', 'text', (c) => c.notNull())
    .addColumn('response', 'text')
    .addColumn('input_tokens', 'integer')
    .addColumn('output_tokens', 'integer')
    .addColumn('cache_read_tokens', 'integer')
    .addColumn('cache_write_tokens', 'integer')
    .addColumn('cost_usd', FLOAT)
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('raw_usage', 'text')
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('llm_traces_incident')
    .on('llm_traces')
    .columns(['incident_id', 'created_at'])
    .execute();

  await schema
    .createTable('services')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('type', 'text')
    .addColumn('tier', 'integer', (c) => c.notNull())
    .addColumn('owner', 'text')
    .addColumn('lifecycle', 'text')
    .addColumn('customer_facing', 'integer', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('runbooks', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();

  await schema
    .createTable('service_dependencies')
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('depends_on', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('service_dependencies_pk', ['service', 'depends_on'])
    .execute();
  await schema
    .createIndex('service_dependencies_reverse')
    .on('service_dependencies')
    .column('depends_on')
    .execute();

  await schema
    .createTable('changes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('version_from', 'text')
    .addColumn('version_to', 'text')
    .addColumn('author', 'text')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('started_at', TIME, (c) => c.notNull())
    .addColumn('finished_at', TIME)
    .addColumn('links', 'text', (c) => c.notNull())
    .addColumn('external_key', 'text', (c) => c.unique())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('changes_service_started')
    .on('changes')
    .columns(['service', 'started_at'])
    .execute();
  await schema.createIndex('changes_started').on('changes').column('started_at').execute();

  await schema
    .createTable('kb_documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('services', 'text', (c) => c.notNull())
    .addColumn('alerts', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull().unique())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('imported_at', TIME, (c) => c.notNull())
    .execute();

  await schema
    .createTable('kb_chunks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('ordinal', 'integer', (c) => c.notNull())
    .addColumn('heading', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('kb_chunks_document')
    .on('kb_chunks')
    .columns(['document_id', 'ordinal'])
    .execute();

  await schema
    .createTable('investigations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('bundle_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('started_at', TIME, (c) => c.notNull())
    .addColumn('finished_at', TIME)
    .addColumn('error', 'text')
    .addColumn('output_hash', 'text')
    .addColumn('result', 'text')
    .execute();
  await schema
    .createIndex('investigations_incident')
    .on('investigations')
    .columns(['incident_id', 'started_at'])
    .execute();

  await schema
    .createTable('recommendations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('investigation_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('rationale', 'text', (c) => c.notNull())
    .addColumn('risk', 'text', (c) => c.notNull())
    .addColumn('confidence', FLOAT, (c) => c.notNull())
    .addColumn('trust', FLOAT)
    .addColumn('citations', 'text', (c) => c.notNull())
    .addColumn('rank', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', TIME)
    .addColumn('decision_reason', 'text')
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createIndex('recommendations_incident')
    .on('recommendations')
    .columns(['incident_id', 'rank'])
    .execute();

  await schema
    .createTable('token_usage')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('agent', 'text')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'integer')
    .addColumn('output_tokens', 'integer')
    .addColumn('cache_read_tokens', 'integer')
    .addColumn('cache_write_tokens', 'integer')
    .addColumn('cost_usd', FLOAT)
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema.createIndex('token_usage_day').on('token_usage').columns(['day', 'agent', 'model']).execute();

  await schema
    .createTable('alarms')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('value', FLOAT)
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();

  await schema
    .createTable('alarm_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alarm_name', 'text', (c) => c.notNull())
    .addColumn('from_state', 'text', (c) => c.notNull())
    .addColumn('to_state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('value', FLOAT)
    .addColumn('at', TIME, (c) => c.notNull())
    .execute();
  await schema.createIndex('alarm_history_alarm').on('alarm_history').columns(['alarm_name', 'at']).execute();

  await schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('run_at', TIME, (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', TIME)
    .addColumn('last_error', 'text')
    .addColumn('dedup_key', 'text', (c) => c.unique())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();
  await schema.createIndex('jobs_status_run_at').on('jobs').columns(['status', 'run_at']).execute();

  await schema
    .createTable('audit_log')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('at', TIME, (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await schema.createIndex('audit_log_at').on('audit_log').column('at').execute();

  await schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('last_used_at', TIME)
    .addColumn('revoked_at', TIME)
    .execute();

  await schema
    .createTable('silences')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('matchers', 'text', (c) => c.notNull())
    .addColumn('starts_at', TIME, (c) => c.notNull())
    .addColumn('ends_at', TIME, (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .execute();
  await schema.createIndex('silences_ends').on('silences').column('ends_at').execute();

  await schema
    .createTable('sns_subscriptions')
    .addColumn('topic_arn', 'text', (c) => c.primaryKey())
    .addColumn('subscribe_url', 'text', (c) => c.notNull())
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('received_at', TIME, (c) => c.notNull())
    .execute();
}

/**
 * Token analytics read llm_traces directly: each trace names the investigation it belongs to, and
 * windows over time use an index on created_at. The token_usage table, never written, goes.
 */
async function usageFromTraces(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('llm_traces').addColumn('investigation_id', 'text').execute();
  await db.schema.createIndex('llm_traces_created').on('llm_traces').column('created_at').execute();
  await db.schema
    .createIndex('llm_traces_investigation')
    .on('llm_traces')
    .column('investigation_id')
    .execute();
  await db.schema.dropTable('token_usage').execute();
}

/**
 * The audit log holds a row for every write and is never pruned: looking up one principal's or one
 * object's entries, newest first, must not scan it.
 */
async function auditLookups(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('audit_log_principal_at')
    .on('audit_log')
    .columns(['principal', 'at'])
    .execute();
  await db.schema.createIndex('audit_log_target_at').on('audit_log').columns(['target', 'at']).execute();
}

async function topologyCorrelation(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('incidents').addColumn('root_service', 'text').execute();
  await db.schema.alterTable('incidents').addColumn('merged_into', 'text').execute();
  await db.schema.alterTable('incidents').addColumn('last_signal_at', TIME).execute();
  await db.schema.alterTable('incident_signals').addColumn('reason', 'text').execute();
  await db.schema
    .alterTable('incident_signals')
    .addColumn('pinned', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Existing incidents: their origin is the service they were opened for, their activity their start.
  await sql`update incidents set last_signal_at = started_at`.execute(db);
  await sql`update incidents set root_service = (select min(s.service) from incident_services s where s.incident_id = incidents.id)`.execute(
    db,
  );
  // A store seeded before this release has its rules; it gets the new built-in rule, on as in a new store.
  const rules = await sql<{ n: number | string }>`select count(*) as n from correlation_rules`.execute(db);
  if (Number(rules.rows[0]?.n ?? 0) === 0) return;
  const now = Date.now();
  const definition = JSON.stringify({
    kind: 'topology',
    matchers: [{ field: 'severity', op: '>=', value: 'warning' }],
    windowSeconds: 600,
    hops: 2,
  });
  await sql`insert into correlation_rules (id, name, version, enabled, priority, description, definition, built_in, created_at, updated_at, deleted_at)
    select ${newId('rule', now)}, 'service-topology', 1, 1, 5, ${TOPOLOGY_RULE_DESCRIPTION_0003}, ${definition}, 1, ${now}, ${now}, null
    where not exists (select 1 from correlation_rules where name = 'service-topology')`.execute(db);
}

async function keptFrontMatter(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('kb_documents').addColumn('front_matter', 'text').execute();
}

async function notifications(db: Kysely<unknown>): Promise<void> {
  const schema = db.schema;
  await schema
    .createTable('notification_channels')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createTable('notification_routes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('match', 'text', (c) => c.notNull())
    .addColumn('channels', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('updated_at', TIME, (c) => c.notNull())
    .execute();
  await schema
    .createTable('notification_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Unique: the dispatcher may run twice after a crash; the second run finds the row and sends nothing new.
    .addColumn('key', 'text', (c) => c.notNull().unique())
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('channel_id', 'text', (c) => c.notNull())
    .addColumn('route_id', 'text')
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('notice', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text')
    .addColumn('detail', 'text')
    .addColumn('created_at', TIME, (c) => c.notNull())
    .addColumn('finished_at', TIME)
    .execute();
  await schema
    .createIndex('notification_deliveries_incident_channel')
    .on('notification_deliveries')
    .columns(['incident_id', 'channel_id', 'created_at'])
    .execute();
  await schema
    .createIndex('notification_deliveries_created')
    .on('notification_deliveries')
    .columns(['created_at'])
    .execute();
}

async function eventsByType(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('incident_events_type_at')
    .on('incident_events')
    .columns(['type', 'at'])
    .execute();
}

/**
 * A store seeded before this release gets cascade opening on its built-in topology rule, as a new store
 * has it; a rule whose definition already says `opens` (even null: turned off) is left as it is. The
 * values are frozen with the migration.
 */
async function cascadeOpening(db: Kysely<unknown>): Promise<void> {
  const rows = await sql<{
    id: string;
    definition: string;
    version: number | string;
  }>`select id, definition, version from correlation_rules where name = 'service-topology' and built_in = 1 and deleted_at is null`.execute(
    db,
  );
  const now = Date.now();
  for (const row of rows.rows) {
    const definition = JSON.parse(row.definition) as Record<string, unknown>;
    if ('opens' in definition) continue;
    definition.opens = { services: 2, minSeverity: 'error', severity: 'SEV3' };
    await sql`update correlation_rules set definition = ${JSON.stringify(definition)}, description = ${TOPOLOGY_RULE_DESCRIPTION_0008},
        version = ${Number(row.version) + 1}, updated_at = ${now}
      where id = ${row.id}`.execute(db);
  }
}

/**
 * A store seeded before this release gets the built-in sustained-error rule, on as in a new store,
 * unless it has a rule of that name. The values are frozen with the migration.
 */
async function sustainedErrors(db: Kysely<unknown>): Promise<void> {
  const rules = await sql<{ n: number | string }>`select count(*) as n from correlation_rules`.execute(db);
  if (Number(rules.rows[0]?.n ?? 0) === 0) return;
  const now = Date.now();
  const definition = JSON.stringify({
    kind: 'threshold',
    matchers: [{ field: 'severity', op: '>=', value: 'error' }],
    groupBy: ['service', 'environment'],
    windowSeconds: 600,
    threshold: { kind: 'count', value: 1 },
    sustainedSeconds: 300,
    severity: 'SEV3',
    titleTemplate: '{{service}}: {{title}} (firing for 5 minutes)',
  });
  const description =
    'An error signal that is still firing 5 minutes after it arrived opens an incident for its service; one that resolves sooner opens nothing.';
  await sql`insert into correlation_rules (id, name, version, enabled, priority, description, definition, built_in, created_at, updated_at, deleted_at)
    select ${newId('rule', now)}, 'sustained-error', 1, 1, 25, ${description}, ${definition}, 1, ${now}, ${now}, null
    where not exists (select 1 from correlation_rules where name = 'sustained-error')`.execute(db);
}

/** The built-in topology rule's description as migration 0008 installs it (frozen with the migration). */
const TOPOLOGY_RULE_DESCRIPTION_0008 =
  `${
    'A signal joins an open incident of its environment when its service is within 2 hops of the ' +
    "incident's services in the dependency graph and it starts within 10 minutes of the incident's last signal."
  } ` +
  'Errors on two services that call one another, within 10 minutes and in no incident, open one (SEV3).';

/** The built-in topology rule's description as migration 0003 installs it (frozen with the migration). */
const TOPOLOGY_RULE_DESCRIPTION_0003 =
  'A signal joins an open incident of its environment when its service is within 2 hops of the ' +
  "incident's services in the dependency graph and it starts within 10 minutes of the incident's last signal.";
