import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, type SqliteDatabase as KyselySqliteDatabase, PostgresDialect, SqliteDialect } from 'kysely';
import type pg from 'pg';
import { OpxError } from '../domain/errors.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface ConnectionOptions {
  /** PostgreSQL schema to use (created if missing); tests use one per suite. */
  schema?: string;
  /** Open SQLite read-only / run PostgreSQL sessions READ ONLY: least privilege enforced by the database. */
  readOnly?: boolean;
  /**
   * Open only to look (`opx migrate --dry-run`), leaving no trace: SQLite opens an existing file
   * without changing its journal mode, refuses writes (query_only), and as the last connection to
   * close removes the -wal and -shm files a read-only handle would leave behind; PostgreSQL sessions
   * run READ ONLY, as with readOnly.
   */
  inspectOnly?: boolean;
  poolSize?: number;
  /**
   * How long a statement waits for a lock another connection holds before failing (SQLITE_BUSY,
   * PostgreSQL 55P03), which the API answers with 503. Without it PostgreSQL waits forever and the
   * request hangs while, say, a migration or a manual `LOCK TABLE` holds the table.
   */
  lockTimeoutMs?: number;
}

/** The wait for a lock when none is configured: long enough for another writer's transaction. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5000;

export interface Connection {
  dialect: Dialect;
  db: Kysely<Database>;
  location: string;
}

let postgresDriver: typeof pg | undefined;
/**
 * The pg driver, loaded on first use: a SQLite store (every CLI command on a laptop) does not pay for
 * loading it, about a tenth of a command's start-up.
 */
function driver(): typeof pg {
  if (!postgresDriver) {
    postgresDriver = createRequire(import.meta.url)('pg') as typeof pg;
    // BIGINT (epoch milliseconds) comes back as a string by default; every value we store fits in a double.
    postgresDriver.types.setTypeParser(20, (value) => Number(value));
  }
  return postgresDriver;
}

export function openConnection(url: string, options: ConnectionOptions = {}): Connection {
  if (/^postgres(ql)?:\/\//.test(url)) return openPostgres(url, options);
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (file === '' || /^[a-z]+:\/\//.test(file)) {
    throw new OpxError(
      'config_invalid',
      `unsupported database URL ${JSON.stringify(url)}: use postgres://… or a SQLite file path (sqlite:/path/opx.db)`,
    );
  }
  return openSqlite(file, options);
}

function openSqlite(file: string, options: ConnectionOptions): Connection {
  if (file !== ':memory:' && !options.readOnly && !options.inspectOnly)
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let database: SqliteDatabase.Database;
  try {
    database = new SqliteDatabase(file, {
      readonly: options.readOnly ?? false,
      fileMustExist: (options.readOnly || options.inspectOnly) ?? false,
    });
  } catch (error) {
    throw new OpxError(
      'store_unavailable',
      `cannot open SQLite database ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  // Another process (the CLI next to a running server) may hold the write lock for a moment.
  database.pragma(`busy_timeout = ${lockTimeoutOf(options)}`);
  if (options.inspectOnly) database.pragma('query_only = ON');
  else if (!options.readOnly) {
    database.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before we answer 2xx, even across power loss.
    database.pragma('synchronous = FULL');
  }
  database.pragma('foreign_keys = ON');
  // 16 MiB of page cache per connection (the default is 2 MiB): the pages ingest and investigations
  // touch most (open signals by fingerprint, active incidents) stay in memory, and the rest of the file
  // is one read from the OS's page cache away. 64 MiB was no faster on the ingest and investigation
  // benches, and with the writer's and the reader's caches full it held the server above 300 MiB.
  database.pragma('cache_size = -16384');
  database.pragma('temp_store = MEMORY');
  return {
    dialect: 'sqlite',
    db: new Kysely<Database>({ dialect: new SqliteDialect({ database: cachingDatabase(database) }) }),
    location: path.resolve(file),
  };
}

/** Stands in for a ROLLBACK with no transaction to roll back (see cachingDatabase). */
const NO_OP_STATEMENT = {
  reader: false,
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
} as unknown as ReturnType<KyselySqliteDatabase['prepare']>;

/**
 * Kysely prepares every statement anew; preparing costs more than running a small one, so statements
 * are cached by SQL text. `begin` is upgraded to `begin immediate` so a transaction takes the write lock
 * up front: a deferred one can fail with SQLITE_BUSY halfway when another process writes.
 */
function cachingDatabase(database: SqliteDatabase.Database): KyselySqliteDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const limit = 500;
  return {
    close: () => database.close(),
    prepare(sql: string) {
      // SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY
      // during commit). Kysely then sends ROLLBACK, which fails with "no transaction is active" and
      // replaces the real error: a full disk would surface as a 500 instead of a 503. Nothing is left
      // to roll back, so the ROLLBACK becomes a no-op and the original error reaches the caller.
      if (sql === 'rollback' && !database.inTransaction) return NO_OP_STATEMENT;
      const text = sql === 'begin' && !database.readonly ? 'begin immediate' : sql;
      let statement = cache.get(text);
      if (statement === undefined) {
        statement = database.prepare(text);
        if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
        cache.set(text, statement);
      }
      return statement as unknown as ReturnType<KyselySqliteDatabase['prepare']>;
    },
  };
}

function lockTimeoutOf(options: ConnectionOptions): number {
  const value = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (!Number.isInteger(value) || value < 1)
    throw new OpxError('config_invalid', `lockTimeoutMs must be a positive integer, not ${value}`);
  return value;
}

function openPostgres(url: string, options: ConnectionOptions): Connection {
  const settings: string[] = [];
  if (options.schema) settings.push(`-c search_path=${options.schema}`);
  if (options.readOnly || options.inspectOnly) settings.push('-c default_transaction_read_only=on');
  settings.push(`-c lock_timeout=${lockTimeoutOf(options)}`);
  const pool = new (driver().Pool)({
    connectionString: url,
    max: options.poolSize ?? 10,
    ...(settings.length > 0 ? { options: settings.join(' ') } : {}),
  });
  survivePostgresDisconnects(pool);
  return {
    dialect: 'postgres',
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
    location: url.replace(/\/\/([^:@/]+):([^@]+)@/, '//$1:***@'),
  };
}

/**
 * Keeps a lost database connection from killing the process. pg emits 'error' on a client whose
 * connection drops: the pool handles it for idle clients, but a client checked out at that moment
 * (inside a transaction, between statements) has no listener, and Node exits on an unhandled 'error'.
 * With a listener the failure reaches the query instead (its next statement fails, the API answers
 * 503) and the pool drops the broken client when it is released.
 */
export function survivePostgresDisconnects(pool: pg.Pool): void {
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it on next use.
  });
  pool.on('connect', (client) => {
    client.on('error', () => {
      // Reported to the statement that runs on this client; see above.
    });
  });
}

/** Creates the PostgreSQL schema a connection's search_path names, so migrations have somewhere to go. */
export async function ensurePostgresSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new OpxError('config_invalid', `invalid schema name ${schema}`);
  const client = new (driver().Client)({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } catch (error) {
    // Two processes creating it at once: IF NOT EXISTS does not stop the loser's unique violation
    // on the catalog, but the schema is there, which is all that was asked.
    if ((error as { code?: string }).code !== '23505') throw error;
  } finally {
    await client.end();
  }
}
