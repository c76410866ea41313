import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import { DEFAULT_LOCK_TIMEOUT_MS, survivePostgresDisconnects } from '../store/connection.js';
import type { Store } from '../store/store.js';
import { encryptedPostgresSaver, encryptingSerde } from './encrypted-checkpoints.js';

export interface Checkpointer {
  saver: BaseCheckpointSaver;
  /**
   * How many checkpoints the thread holds: one count in SQL. Listing them through the saver reads and
   * decrypts every one, which costs more than a deterministic agent run.
   */
  count(threadId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * LangGraph's own saver on OPX's database: SqliteSaver on the same file (its own connection, WAL like
 * ours), PostgresSaver in the same schema. The tables are the saver's, created by its setup.
 */
export async function openCheckpointer(store: Store): Promise<Checkpointer> {
  if (store.dialect === 'postgres') {
    const options = store.options.schema ? { schema: store.options.schema } : {};
    // Checkpoints mirror the encrypted columns, so they are sealed with the same keys.
    const saver = store.cipher
      ? encryptedPostgresSaver(store.url, store.cipher, options)
      : PostgresSaver.fromConnString(store.url, options);
    // The saver's own pool: without listeners a database restart would crash a worker.
    survivePostgresDisconnects((saver as unknown as { pool: pg.Pool }).pool);
    await saver.setup();
    const pool = (saver as unknown as { pool: pg.Pool }).pool;
    // The saver's own table, in its schema (it quotes the schema the same way).
    const table = `"${options.schema ?? 'public'}".checkpoints`;
    return {
      saver,
      async count(threadId) {
        const result = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table} WHERE thread_id = $1`,
          [threadId],
        );
        return result.rows[0]?.n ?? 0;
      },
      close: () => saver.end(),
    };
  }
  const database = new SqliteDatabase(store.location);
  // Wait for the write lock like the store's own connection does. Checkpoints commit in WAL mode with
  // synchronous=NORMAL: a committed checkpoint survives the process dying (SIGKILL, OOM) but the last
  // few may be lost on power failure, which costs only re-running agents (they are deterministic on the
  // frozen bundle). The investigation's record (OPX's tables) stays synchronous=FULL. This saves about
  // nine fsyncs per investigation.
  database.pragma(`busy_timeout = ${store.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS}`);
  database.pragma('synchronous = NORMAL');
  const saver = new SqliteSaver(database, store.cipher ? encryptingSerde(store.cipher) : undefined);
  // SqliteSaver creates its tables lazily on first use; `opx migrate` wants them now. Its setup is
  // idempotent (CREATE TABLE IF NOT EXISTS) but declared protected, hence the cast.
  (saver as unknown as { setup(): void }).setup();
  const counting = database.prepare<[string], { n: number }>(
    'SELECT count(*) AS n FROM checkpoints WHERE thread_id = ?',
  );
  return {
    saver,
    async count(threadId) {
      return counting.get(threadId)?.n ?? 0;
    },
    async close() {
      database.close();
    },
  };
}

/** Creates the checkpoint tables (part of `opx migrate`). */
export async function setupCheckpointTables(store: Store): Promise<void> {
  const checkpointer = await openCheckpointer(store);
  await checkpointer.close();
}
