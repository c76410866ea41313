/**
 * Key rotation: rewrites every encrypted value that is not under the active key (older keys, or
 * plaintext from before encryption) with the active key, in batches, while the server keeps running.
 */
import { sql } from 'kysely';
import { OpxError } from '../domain/errors.js';
import { FieldCipher } from './crypto.js';
import type { Store } from './store.js';

interface Target {
  table: string;
  column: string;
  /** The associated data the value is sealed with (see crypto.ts). */
  context: string;
  binary: boolean;
}

/** OPX's encrypted columns; the checkpoint tables depend on the backend's saver. */
const COLUMNS: Target[] = [
  { table: 'signals', column: 'raw', context: 'signals.raw', binary: false },
  { table: 'incident_events', column: 'data', context: 'incident_events.data', binary: false },
  { table: 'llm_traces', column: 'prompt', context: 'llm_traces.prompt', binary: false },
  { table: 'llm_traces', column: 'response', context: 'llm_traces.response', binary: false },
  { table: 'investigations', column: 'result', context: 'investigations.result', binary: false },
  { table: 'recommendations', column: 'rationale', context: 'recommendations.rationale', binary: false },
  {
    table: 'recommendations',
    column: 'decision_reason',
    context: 'recommendations.decision_reason',
    binary: false,
  },
  { table: 'idempotency', column: 'response_body', context: 'idempotency.response_body', binary: false },
  { table: 'evidence_bundles', column: 'content', context: 'evidence_bundles.content', binary: false },
  { table: 'evidence_graphs', column: 'content', context: 'evidence_graphs.content', binary: false },
  {
    table: 'notification_channels',
    column: 'secret',
    context: 'notification_channels.secret',
    binary: false,
  },
  {
    table: 'notification_deliveries',
    column: 'notice',
    context: 'notification_deliveries.notice',
    binary: false,
  },
];

const CHECKPOINTS: Record<'sqlite' | 'postgres', Target[]> = {
  sqlite: [
    { table: 'checkpoints', column: 'checkpoint', context: 'checkpoint', binary: true },
    { table: 'checkpoints', column: 'metadata', context: 'checkpoint', binary: true },
    { table: 'writes', column: 'value', context: 'checkpoint', binary: true },
  ],
  postgres: [
    { table: 'checkpoint_blobs', column: 'blob', context: 'checkpoint', binary: true },
    { table: 'checkpoint_writes', column: 'blob', context: 'checkpoint', binary: true },
  ],
};

export interface KeyUsage {
  table: string;
  column: string;
  /** Rows by the key their value names; `plaintext` for values written before encryption. */
  byKey: Record<string, number>;
}

function prefixOf(keyId: string): string {
  return `enc:v1:${keyId}:`;
}

async function tableExists(store: Store, table: string): Promise<boolean> {
  const tables = await store.db.introspection.getTables();
  return tables.some((item) => item.name === table);
}

async function targets(store: Store): Promise<Target[]> {
  const out: Target[] = [];
  for (const target of [...COLUMNS, ...CHECKPOINTS[store.dialect]])
    if (await tableExists(store, target.table)) out.push(target);
  return out;
}

/** The first bytes of a value as text, on either backend and for text or binary columns. */
function head(store: Store, target: Target) {
  const column = sql.ref(target.column);
  if (store.dialect === 'sqlite') return sql<string>`substr(cast(${column} as text), 1, 40)`;
  return target.binary
    ? sql<string>`convert_from(substring(${column} from 1 for 40), 'SQL_ASCII')`
    : sql<string>`left(${column}, 40)`;
}

/** How many stored values each key (or no key) protects, per column. */
export async function keyUsage(store: Store): Promise<KeyUsage[]> {
  const out: KeyUsage[] = [];
  for (const target of await targets(store)) {
    const rows = await sql<{ head: string | null; n: number | string }>`
      select ${head(store, target)} as head, count(*) as n from ${sql.table(target.table)}
      where ${sql.ref(target.column)} is not null group by 1`.execute(store.db);
    const byKey: Record<string, number> = {};
    for (const row of rows.rows) {
      const keyId = row.head === null ? undefined : FieldCipher.keyIdOf(row.head);
      const name = keyId ?? 'plaintext';
      byKey[name] = (byKey[name] ?? 0) + Number(row.n);
    }
    out.push({ table: target.table, column: target.column, byKey });
  }
  return out;
}

/**
 * Re-seals every value not under the active key, `batchSize` rows per transaction; `progress` is
 * called after each batch. Safe to interrupt and run again: finished rows are skipped.
 */
export async function reencrypt(
  store: Store,
  options: {
    batchSize?: number;
    progress?: (done: { table: string; column: string; rows: number }) => void;
  } = {},
): Promise<{ rewritten: number }> {
  const cipher = store.cipher;
  if (!cipher) throw new OpxError('config_invalid', 'the store was opened without encryption keys');
  const batchSize = options.batchSize ?? 500;
  const active = prefixOf(cipher.activeKeyId);
  // SQLite's rowid and PostgreSQL's ctid name a row whatever its key; ctid is stable within the batch's
  // transaction, which is all that is needed.
  const rowId = store.dialect === 'sqlite' ? sql.raw('rowid') : sql.raw('ctid');
  let rewritten = 0;
  for (const target of await targets(store)) {
    let rows = 0;
    for (;;) {
      const batch = await store.transaction(async (scope) => {
        const found = await sql<{ row_id: unknown; value: string | Uint8Array }>`
          select ${rowId} as row_id, ${sql.ref(target.column)} as value from ${sql.table(target.table)}
          where ${sql.ref(target.column)} is not null and ${head(store, target)} not like ${`${active}%`}
          limit ${batchSize}`.execute(scope.db);
        for (const row of found.rows) {
          const next = target.binary
            ? cipher.encryptBytes(cipher.decryptBytes(toBytes(row.value), target.context), target.context)
            : cipher.encrypt(cipher.decrypt(String(row.value), target.context), target.context);
          const value = target.binary ? Buffer.from(next) : next;
          const where =
            store.dialect === 'sqlite' ? sql`rowid = ${row.row_id}` : sql`ctid = ${row.row_id}::tid`;
          await sql`update ${sql.table(target.table)} set ${sql.ref(target.column)} = ${value} where ${where}`.execute(
            scope.db,
          );
        }
        return found.rows.length;
      });
      rows += batch;
      rewritten += batch;
      if (batch > 0) options.progress?.({ table: target.table, column: target.column, rows });
      if (batch < batchSize) break;
    }
  }
  return { rewritten };
}

function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
