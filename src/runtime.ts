import { sql } from 'kysely';
import { AuditedWrites } from './audit/writes.js';
import { type Config, storeUrl } from './config/index.js';
import { DEFAULT_RULES } from './detect/rules.js';
import { OpxError } from './domain/errors.js';
import { guardrailKey, StorageRedactor } from './guardrails/stored.js';
import { IngestService } from './ingest/service.js';
import { AlertNameCache, type FreezeOptions } from './investigate/bundle.js';
import type { Checkpointer } from './investigate/checkpointer.js';
import { KnowledgeService } from './knowledge/search.js';
import { loadCipher } from './store/crypto.js';
import { openStore, type Store } from './store/store.js';

/** What every edge (API, CLI, worker) works with: one store, one write path, one ingest service, one config. */
export interface Runtime {
  config: Config;
  store: Store;
  /** Every write goes through here: group-committed, idempotent when keyed, audited with the write. */
  writes: AuditedWrites;
  ingest: IngestService;
  knowledge: KnowledgeService;
  /** The key for guardrail hashes and stored placeholders (see guardrailKey()). */
  guardrailKey: string;
  /**
   * What freezing evidence needs from the runtime: the configured look-back and radius, and the cached
   * knowledge index and past-incident alert names. Build it outside a write transaction.
   */
  evidenceOptions(principal: string): Promise<FreezeOptions>;
  /** A read-only connection to the same store, for the agents' tools; opened on first use. */
  reader(): Promise<Store>;
  /** LangGraph's saver on this store, opened on first use and closed with the runtime. */
  checkpointer(): Promise<Checkpointer>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Run migrations and seed the default rules first (default true). */
  migrate?: boolean;
  /** PostgreSQL schema, for tests that share one database. */
  schema?: string;
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  // Encryption keys are read first: a missing or malformed key stops start-up before any write.
  const cipher = loadCipher(config);
  const store = await openStore(storeUrl(config), {
    cipher,
    ...(options.schema ? { schema: options.schema } : {}),
    lockTimeoutMs: config.storeLockTimeoutMs,
  });
  try {
    if (options.migrate ?? true) await migrateAndSeed(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  let key: string;
  try {
    key = guardrailKey(config.guardrailHashKey, config.dataDir);
  } catch (error) {
    await store.close();
    throw error;
  }
  const ingest = new IngestService(
    store,
    {
      autoResolve: config.autoResolve,
      reopenGraceMs: config.reopenGraceSeconds * 1000,
      investigate: config.autoInvestigate
        ? {
            maxAttempts: config.investigationMaxAttempts,
            delayMs: config.investigateDelaySeconds * 1000,
            rerunDebounceMs: config.reinvestigateDebounceSeconds * 1000,
          }
        : undefined,
    },
    config.redactStoredText ? new StorageRedactor(key) : undefined,
  );
  const writes = new AuditedWrites(store);
  let checkpointer: Promise<Checkpointer> | undefined;
  const knowledge = new KnowledgeService(store);
  const alertNames = new AlertNameCache();
  let reader: Promise<Store> | undefined;
  return {
    config,
    store,
    writes,
    ingest,
    knowledge,
    guardrailKey: key,
    async evidenceOptions(principal) {
      return {
        lookbackMs: config.changeLookbackSeconds * 1000,
        radius: config.topologyRadius,
        principal,
        knowledge: await knowledge.index(),
        alertNames,
      };
    },
    reader() {
      reader ??=
        store.location === ':memory:'
          ? Promise.resolve(store)
          : openStore(storeUrl(config), {
              cipher,
              ...(options.schema ? { schema: options.schema } : {}),
              lockTimeoutMs: config.storeLockTimeoutMs,
              readOnly: true,
            });
      return reader;
    },
    checkpointer() {
      checkpointer ??= import('./investigate/checkpointer.js').then(({ openCheckpointer }) =>
        openCheckpointer(store),
      );
      return checkpointer;
    },
    async close() {
      await writes.close();
      if (checkpointer)
        await checkpointer.then(
          (opened) => opened.close(),
          () => undefined,
        );
      const opened = reader && (await reader.catch(() => undefined));
      if (opened && opened !== store) await opened.close();
      await store.close();
    },
  };
}

/** How long a process waits for another one that is migrating the same PostgreSQL database. */
const MIGRATION_LOCK_WAIT_MS = 5 * 60_000;

/**
 * Migrates OPX's tables and LangGraph's checkpoint tables and, on a store that has never had rules,
 * installs the default correlation rules.
 */
export async function migrateAndSeed(
  store: Store,
  options: { checkpoints?: 'always' | 'if-missing' } = {},
): Promise<{ applied: string[]; seededRules: number }> {
  if (store.dialect === 'sqlite') return migrateAndSeedUnlocked(store, options);
  // Several processes may start on one new database at once (a Helm init container per pod, a
  // fleet restarting): one migrates and seeds while the others wait on a session lock, then find
  // nothing left to do. The lock is held on one connection; the migration runs on others.
  return store.db.connection().execute(async (connection) => {
    // Polled rather than waited on: a plain wait would end at the session's lock_timeout.
    const deadline = Date.now() + MIGRATION_LOCK_WAIT_MS;
    while (
      !(
        await sql<{
          locked: boolean;
        }>`select pg_try_advisory_lock(hashtext('opx:migrate')) as locked`.execute(connection)
      ).rows[0]?.locked
    ) {
      if (Date.now() > deadline)
        throw new OpxError(
          'conflict',
          `another process has been migrating this database for ${MIGRATION_LOCK_WAIT_MS / 60_000} minutes; check it, then start again`,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    try {
      return await migrateAndSeedUnlocked(store, options);
    } finally {
      await sql`select pg_advisory_unlock(hashtext('opx:migrate'))`.execute(connection);
    }
  });
}

async function migrateAndSeedUnlocked(
  store: Store,
  options: { checkpoints?: 'always' | 'if-missing' },
): Promise<{ applied: string[]; seededRules: number }> {
  const { applied } = await store.migrate();
  // LangGraph's checkpoint tables belong to its saver, which creates (and upgrades) them itself.
  // `opx migrate` always runs that setup; other starts only when the tables are missing, so a
  // plain command does not pay for loading LangGraph.
  if (options.checkpoints === 'always' || !(await checkpointTablesExist(store))) {
    const { setupCheckpointTables } = await import('./investigate/checkpointer.js');
    await setupCheckpointTables(store);
  }
  let seededRules = 0;
  await store.transaction(async (scope) => {
    // Counting deleted rules too: an operator who deleted a default must not see it come back.
    if ((await scope.rules.count()) > 0) return;
    for (const rule of DEFAULT_RULES) {
      await scope.rules.create(rule, { builtIn: true });
      seededRules += 1;
    }
  });
  return { applied, seededRules };
}

async function checkpointTablesExist(store: Store): Promise<boolean> {
  const result =
    store.dialect === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = 'checkpoints'`.execute(
          store.db,
        )
      : await sql<{
          n: number;
        }>`select count(*)::int as n from information_schema.tables where table_schema = current_schema() and table_name = 'checkpoints'`.execute(
          store.db,
        );
  return Number(result.rows[0]?.n ?? 0) > 0;
}
