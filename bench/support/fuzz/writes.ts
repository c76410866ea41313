/** The write counter: triggers on every table count inserts, updates and deletes, so a refused request that wrote is caught. */
import { sql } from 'kysely';
import type { Runtime } from '../../../src/runtime.js';

const COUNTER = 'fuzz_write_counter';

/** Committed row writes so far, per table. */
export type WriteCounts = Record<string, number>;

/** The tables whose counts moved between two readings, as "table +n"; empty when nothing was written. */
export function writesBetween(before: WriteCounts, after: WriteCounts): string[] {
  return Object.keys(after)
    .filter((table) => after[table] !== before[table])
    .map((table) => `${table} +${(after[table] ?? 0) - (before[table] ?? 0)}`);
}

/**
 * Counts committed row writes per table: a trigger on every table bumps that table's row here. A
 * write rolled back rolls its bumps back too, so the counts move only for writes that stuck, and an
 * UPDATE that leaves row counts alone still shows. Installed after the seed, on a throwaway store,
 * so the migrations never see it.
 */
export async function installWriteCounter(runtime: Runtime): Promise<() => Promise<WriteCounts>> {
  const db = runtime.store.db;
  const postgres = runtime.store.dialect === 'postgres';
  const listing = postgres
    ? sql<{
        name: string;
      }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`
    : sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`;
  const tables = (await listing.execute(db)).rows.map((row) => row.name).filter((name) => name !== COUNTER);
  // Schema-qualified on PostgreSQL: the LangGraph checkpointer writes through its own pool, whose
  // search_path does not name the test schema.
  const schema = postgres
    ? `"${(await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]!.name}".`
    : '';
  await sql.raw(`create table ${schema}${COUNTER} (tbl text primary key, n bigint not null)`).execute(db);
  for (const table of tables)
    await sql.raw(`insert into ${schema}${COUNTER} (tbl, n) values ('${table}', 0)`).execute(db);
  if (postgres) {
    await sql
      .raw(
        `create function ${schema}fuzz_bump() returns trigger language plpgsql as $$ begin update ${schema}${COUNTER} set n = n + 1 where tbl = TG_TABLE_NAME; return null; end $$`,
      )
      .execute(db);
    for (const table of tables)
      await sql
        .raw(
          `create trigger fuzz_bump after insert or update or delete on ${schema}"${table}" for each row execute function ${schema}fuzz_bump()`,
        )
        .execute(db);
  } else {
    for (const table of tables)
      for (const event of ['insert', 'update', 'delete'])
        await sql
          .raw(
            `create trigger "fuzz_${event}_${table}" after ${event} on "${table}" begin update ${COUNTER} set n = n + 1 where tbl = '${table}'; end`,
          )
          .execute(db);
  }
  return async () => {
    const rows = await sql<{
      tbl: string;
      n: number | string;
    }>`select tbl, n from ${sql.table(COUNTER)}`.execute(db);
    return Object.fromEntries(rows.rows.map((row) => [row.tbl, Number(row.n)]));
  };
}
