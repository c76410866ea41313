/**
 * Loaded into the OPX server with `--import` when OPX_BENCH_SQL_PROF=1: times every better-sqlite3
 * statement by its SQL text and writes the totals to $OPX_BENCH_SQL_TIMINGS_FILE on exit. The CPU
 * profile cannot do this: it charges all native SQLite time (fsync included) to Kysely's executeQuery.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';

export interface StatementTiming {
  sql: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** Multi-row VALUES and IN lists differ only in how many placeholders they have; count them as one statement. */
export function statementShape(sql: string): string {
  return sql.replace(/\(\?(?:, ?\?)*\)(?:, ?\(\?(?:, ?\?)*\))*/g, '(?…)');
}

const output = process.env.OPX_BENCH_SQL_TIMINGS_FILE;
if (output) {
  const timings = new Map<string, StatementTiming>();
  const record = (sql: string, millis: number, rows: number) => {
    const shape = statementShape(sql);
    let entry = timings.get(shape);
    if (!entry) {
      entry = { sql: shape, calls: 0, totalMs: 0, rows: 0 };
      timings.set(shape, entry);
    }
    entry.calls += 1;
    entry.totalMs += millis;
    entry.rows += rows;
  };
  // The Statement class is not exported; a throwaway statement leads to its prototype.
  const probe = new Database(':memory:');
  const prototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<
    'run' | 'get' | 'all',
    (...args: unknown[]) => unknown
  >;
  probe.close();
  for (const method of ['run', 'get', 'all'] as const) {
    const original = prototype[method];
    prototype[method] = function timed(this: Database.Statement, ...args: unknown[]) {
      const started = performance.now();
      const result = original.apply(this, args);
      const rows =
        method === 'all'
          ? (result as unknown[]).length
          : method === 'run'
            ? (result as Database.RunResult).changes
            : result === undefined
              ? 0
              : 1;
      record(this.source, performance.now() - started, rows);
      return result;
    };
  }
  process.on('exit', () => {
    writeFileSync(output, JSON.stringify([...timings.values()]));
  });
}
