import { type Kysely, Migrator, sql } from 'kysely';
import { OpxError } from '../domain/errors.js';
import { type ConnectionOptions, type Dialect, ensurePostgresSchema, openConnection } from './connection.js';
import type { FieldCipher } from './crypto.js';
import {
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  MIGRATIONS,
  type MigrationPlan,
  migrationProvider,
  planMigrations,
} from './migrations.js';
import { auditRepository, idempotencyRepository, tokenRepository } from './repositories/access.js';
import { analyticsRepository } from './repositories/analytics.js';
import type { RepositoryContext } from './repositories/base.js';
import { changeRepository, serviceRepository } from './repositories/catalog.js';
import { detectionRepository } from './repositories/detections.js';
import { evidenceRepository } from './repositories/evidence.js';
import { incidentRepository } from './repositories/incidents.js';
import { investigationRepository } from './repositories/investigations.js';
import { jobRepository } from './repositories/jobs.js';
import { knowledgeRepository } from './repositories/knowledge.js';
import { notificationRepository } from './repositories/notifications.js';
import { ruleRepository } from './repositories/rules.js';
import { safetyRepository } from './repositories/safety.js';
import { signalRepository } from './repositories/signals.js';
import { silenceRepository } from './repositories/silences.js';
import { snsRepository } from './repositories/sns.js';
import type { Database } from './schema.js';

function repositories(context: RepositoryContext) {
  return {
    signals: signalRepository(context),
    rules: ruleRepository(context),
    detections: detectionRepository(context),
    incidents: incidentRepository(context),
    services: serviceRepository(context),
    changes: changeRepository(context),
    tokens: tokenRepository(context),
    idempotency: idempotencyRepository(context),
    audit: auditRepository(context),
    silences: silenceRepository(context),
    sns: snsRepository(context),
    evidence: evidenceRepository(context),
    knowledge: knowledgeRepository(context),
    jobs: jobRepository(context),
    notifications: notificationRepository(context),
    investigations: investigationRepository(context),
    safety: safetyRepository(context),
    analytics: analyticsRepository(context),
  };
}
export type Repositories = ReturnType<typeof repositories>;

/** The repositories bound to one connection or one transaction. */
export interface StoreScope extends Repositories {
  readonly dialect: Dialect;
  readonly db: Kysely<Database>;
}

/** The one storage port: the API, CLI and worker all receive a Store; nothing else opens a database. */
export interface Store extends StoreScope {
  readonly location: string;
  readonly url: string;
  readonly options: ConnectionOptions;
  /** The keys for the encrypted columns, when the store was opened with them. */
  readonly cipher: FieldCipher | undefined;
  /** Runs `work` in one transaction; everything it writes commits together or not at all. */
  transaction<T>(work: (scope: StoreScope) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` with a job's due time whenever this process queues a job, or makes one due again,
   * and the write has committed (a rolled-back transaction tells nothing). Other processes' jobs are
   * not seen: workers still poll for those. Returns the function that unsubscribes.
   */
  onJobQueued(listener: (runAt: number) => void): () => void;
  migrate(): Promise<{ applied: string[]; version: number }>;
  /**
   * What `migrate()` would do, found by reading only: on a store never migrated, the bookkeeping
   * tables are not created. Works on a read-only connection.
   */
  migrationPlan(): Promise<MigrationPlan>;
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

function scope(
  db: Kysely<Database>,
  dialect: Dialect,
  cipher: FieldCipher | undefined,
  jobQueued: (runAt: number) => void,
): StoreScope {
  return { dialect, db, ...repositories({ db, dialect, cipher, jobQueued }) };
}

export interface StoreOptions extends ConnectionOptions {
  /** Encrypts the sensitive columns; see src/store/crypto.ts. */
  cipher?: FieldCipher;
}

export async function openStore(url: string, storeOptions: StoreOptions = {}): Promise<Store> {
  const { cipher, ...options } = storeOptions;
  if (options.schema && /^postgres(ql)?:\/\//.test(url) && !options.readOnly && !options.inspectOnly) {
    await ensurePostgresSchema(url, options.schema);
  }
  const connection = openConnection(url, options);
  const { db, dialect } = connection;
  const jobListeners = new Set<(runAt: number) => void>();
  const jobQueued = (runAt: number) => {
    for (const listener of jobListeners) listener(runAt);
  };
  const base = scope(db, dialect, cipher, jobQueued);
  // Kysely looks for its bookkeeping tables in every schema unless told which one; on a PostgreSQL
  // database holding several OPX schemas it would find another store's and skip creating its own.
  const migrationTableSchema =
    dialect === 'postgres'
      ? (options.schema ??
        (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema)
      : undefined;
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });

  return {
    ...base,
    location: connection.location,
    url,
    options,
    cipher,
    async transaction(work) {
      // Jobs queued inside the transaction are announced after it commits: a worker told earlier would
      // look for them before they are visible to it.
      let due: number | undefined;
      const result = await db.transaction().execute((trx) =>
        work(
          scope(trx, dialect, cipher, (runAt) => {
            due = due === undefined ? runAt : Math.min(due, runAt);
          }),
        ),
      );
      if (due !== undefined) jobQueued(due);
      return result;
    },
    onJobQueued(listener) {
      jobListeners.add(listener);
      return () => jobListeners.delete(listener);
    },
    async migrate() {
      let { error, results } = await migrator.migrateToLatest();
      // Kysely's migrator looks for its tables by introspecting every schema of the database, and
      // PostgreSQL fails that query when another schema, or a table in it, is dropped while it runs
      // (several OPX stores in one database, one removed). Another schema's churn is not this store's
      // failure: look again. Only before any migration ran (no results): a migration's own failure
      // is reported at once.
      for (
        let attempt = 0;
        attempt < 5 && error && results === undefined && anotherSchemaChanged(error, migrationTableSchema);
        attempt += 1
      )
        ({ error, results } = await migrator.migrateToLatest());
      if (error) {
        // Kysely's "corrupted migrations" says what it found, not what the operator should do.
        const refusal = await executedMigrations(db, dialect, migrationTableSchema).then(
          (executed) => planMigrations(executed).refusal,
          () => undefined,
        );
        throw new OpxError(
          'store_unavailable',
          `migration failed: ${refusal ?? (error as Error).message ?? String(error)}`,
          { cause: error },
        );
      }
      return {
        applied: (results ?? [])
          .filter((result) => result.status === 'Success')
          .map((result) => result.migrationName),
        version: MIGRATIONS.length,
      };
    },
    async migrationPlan() {
      return planMigrations(await executedMigrations(db, dialect, migrationTableSchema));
    },
    async schemaVersion() {
      try {
        const migrations = await migrator.getMigrations();
        return migrations.filter((migration) => migration.executedAt !== undefined).length;
      } catch {
        return 0;
      }
    },
    async close() {
      await db.destroy();
    },
  };
}

/** The names in the migration bookkeeping table; none when the table does not exist yet. */
async function executedMigrations(
  db: Kysely<Database>,
  dialect: Dialect,
  schema: string | undefined,
): Promise<string[]> {
  const exists =
    dialect === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(
          db,
        )
      : await sql<{ n: number }>`select count(*)::int as n from information_schema.tables
          where table_schema = coalesce(${schema ?? null}, current_schema()) and table_name = ${MIGRATION_TABLE}`.execute(
          db,
        );
  if (Number(exists.rows[0]?.n ?? 0) === 0) return [];
  const table =
    dialect === 'postgres' && schema ? sql.table(`${schema}.${MIGRATION_TABLE}`) : sql.table(MIGRATION_TABLE);
  const rows = await sql<{ name: string }>`select name from ${table}`.execute(db);
  return rows.rows.map((row) => row.name);
}

/** Checks the database answers; used by health checks. */
export async function ping(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}

/**
 * What PostgreSQL answers a catalog read when a schema or table it is reading goes away under it:
 * schema (3F000), table (42P01) or column (42703) does not exist, or a cache lookup failed (XX000).
 */
const CATALOG_RACE_CODES = new Set(['3F000', '42P01', '42703', 'XX000']);

/** One of CATALOG_RACE_CODES, about a schema other than `own`. */
function anotherSchemaChanged(error: unknown, own: string | undefined): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    typeof code === 'string' &&
    CATALOG_RACE_CODES.has(code) &&
    typeof message === 'string' &&
    (own === undefined || !message.includes(`"${own}"`))
  );
}
