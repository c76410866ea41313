import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { sql } from 'kysely';
import { type Config, storeUrl } from '../../config/index.js';
import { DEFAULT_RULES } from '../../detect/rules.js';
import { OpxError } from '../../domain/errors.js';
import { migrateAndSeed, openRuntime } from '../../runtime.js';
import {
  MIGRATION_NAMES,
  MIGRATIONS,
  type MigrationPlan,
  migrationStatements,
  planMigrations,
} from '../../store/migrations.js';
import { openStore, type Store } from '../../store/store.js';
import { configFrom } from '../config.js';
import { globalOptions } from '../context.js';
import { printJson } from '../output.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the database schema (safe to re-run); --dry-run shows what it would do')
    .option('--dry-run', 'list the pending migrations with their SQL, and write nothing')
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const config = configFrom(command);
      const json = globalOptions(command).json ?? false;
      if (options.dryRun) {
        await dryRun(config, json);
        return;
      }
      const runtime = await openRuntime(config, { migrate: false }).catch((error: unknown) => {
        throw cannotUse(config, error);
      });
      try {
        const result = await migrateAndSeed(runtime.store, { checkpoints: 'always' }).catch(
          (error: unknown) => {
            throw cannotUse(config, error);
          },
        );
        const version = await runtime.store.schemaVersion();
        if (json) printJson({ ...result, version, store: withoutPassword(storeUrl(config)) });
        else {
          process.stdout.write(
            `${result.applied.length === 0 ? 'schema already current' : `applied migrations ${result.applied.join(', ')}`}; version ${version}` +
              `${result.seededRules ? `; installed ${result.seededRules} default rules` : ''}\n`,
          );
        }
      } finally {
        await runtime.close();
      }
    });
}

interface DryRunReport {
  dryRun: true;
  dialect: 'sqlite' | 'postgres';
  store: string;
  /** False for a SQLite file that does not exist yet: `opx migrate` would create it. */
  exists: boolean;
  version: number;
  latest: number;
  /**
   * The SQL each migration runs, compiled without the database. `readsData`: the migration reads
   * rows (a `select` among its statements) and what it writes after depends on them; the statements
   * shown are those it runs on a store where the read finds nothing.
   */
  pending: { name: string; summary: string; statements: string[]; readsData: boolean }[];
  /** LangGraph's tables; `opx migrate` runs its setup either way, which creates or upgrades them. */
  checkpointTables: 'present' | 'missing';
  /** Default correlation rules `opx migrate` would install: all of them on a store that has none. */
  defaultRulesToInstall: number;
}

/**
 * Reports what `opx migrate` would do without doing any of it: the store is opened inspect-only (see
 * ConnectionOptions), a missing SQLite file is not created, and the encryption and guardrail key
 * files are not read, so none is created either.
 */
async function dryRun(config: Config, json: boolean): Promise<void> {
  const url = storeUrl(config);
  const postgres = /^postgres(ql)?:\/\//.test(url);
  const file = postgres ? undefined : url.replace(/^sqlite:/, '');
  let report: Omit<DryRunReport, 'pending'> & { plan: MigrationPlan };
  if (file !== undefined && (file === ':memory:' || (isFilePath(file) && !existsSync(file)))) {
    report = {
      dryRun: true,
      dialect: 'sqlite',
      store: file === ':memory:' ? file : path.resolve(file),
      exists: false,
      version: 0,
      latest: MIGRATIONS.length,
      plan: planMigrations([]),
      checkpointTables: 'missing',
      defaultRulesToInstall: DEFAULT_RULES.length,
    };
  } else {
    // A malformed URL is refused here, by the same check every command makes.
    const store = await openStore(url, { inspectOnly: true, lockTimeoutMs: config.storeLockTimeoutMs }).catch(
      (error: unknown) => {
        throw cannotUse(config, error);
      },
    );
    try {
      const plan = await store.migrationPlan();
      const rules = (await tableExists(store, 'correlation_rules')) ? await store.rules.count() : 0;
      report = {
        dryRun: true,
        dialect: store.dialect,
        store: store.location,
        exists: true,
        version: plan.version,
        latest: MIGRATIONS.length,
        plan,
        checkpointTables: (await tableExists(store, 'checkpoints')) ? 'present' : 'missing',
        defaultRulesToInstall: rules === 0 ? DEFAULT_RULES.length : 0,
      };
    } catch (error) {
      throw cannotUse(config, error);
    } finally {
      await store.close();
    }
  }
  const { plan, ...rest } = report;
  if (plan.refusal) throw new OpxError('store_unavailable', `opx migrate would refuse: ${plan.refusal}`);
  const pending = await Promise.all(
    plan.pending.map(async (name) => {
      const statements = await migrationStatements(name, rest.dialect);
      return {
        name,
        summary: MIGRATIONS[MIGRATION_NAMES.indexOf(name)]!.summary,
        statements,
        readsData: statements.some((statement) => /^select\b/i.test(statement)),
      };
    }),
  );
  const output: DryRunReport = { ...rest, pending };
  if (json) {
    printJson(output);
    return;
  }
  printDryRun(output);
}

function printDryRun(report: DryRunReport): void {
  const lines: string[] = [];
  lines.push(
    report.exists
      ? `store: ${report.dialect} ${report.store}, schema version ${report.version} of ${report.latest}`
      : `store: ${report.dialect} ${report.store} does not exist yet; opx migrate would create it`,
  );
  if (report.pending.length === 0) lines.push('no pending migrations');
  else {
    const count = report.pending.length;
    lines.push(`${count} pending migration${count === 1 ? '' : 's'}, in the order opx migrate applies them:`);
    for (const migration of report.pending) {
      lines.push('', `${migration.name}  ${migration.summary}`);
      for (const statement of migration.statements) lines.push(`      ${statement};`);
      if (migration.readsData)
        lines.push(
          "      (it reads the store's rows: the statements after a read depend on what it finds; shown as for none)",
        );
    }
    lines.push('');
  }
  if (report.checkpointTables === 'missing')
    lines.push("opx migrate would also create LangGraph's checkpoint tables");
  if (report.defaultRulesToInstall > 0)
    lines.push(
      `opx migrate would also install the ${report.defaultRulesToInstall} default correlation rules (the store has no rules)`,
    );
  lines.push('dry run: nothing was written');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A SQLite location that names a file (not `:memory:`, not an unsupported URL left for openStore). */
function isFilePath(file: string): boolean {
  return file !== '' && !/^[a-z]+:\/\//.test(file);
}

async function tableExists(store: Store, name: string): Promise<boolean> {
  const result =
    store.dialect === 'sqlite'
      ? await sql<{
          n: number;
        }>`select count(*) as n from sqlite_master where type = 'table' and name = ${name}`.execute(store.db)
      : await sql<{ n: number }>`select count(*)::int as n from information_schema.tables
          where table_schema = current_schema() and table_name = ${name}`.execute(store.db);
  return Number(result.rows[0]?.n ?? 0) > 0;
}

/**
 * An error opening or reading the store, with the store named: the driver's own message alone
 * ("connect ECONNREFUSED", "file is not a database") does not say which store was meant.
 */
function cannotUse(config: Config, error: unknown): unknown {
  if (error instanceof OpxError) return error;
  const failure = error as Error & { code?: string; errors?: Error[] };
  const detail =
    failure.message ||
    failure.errors?.map((inner) => inner.message).join('; ') ||
    failure.code ||
    String(error);
  return new OpxError(
    'store_unavailable',
    `cannot use the store at ${withoutPassword(storeUrl(config))}: ${detail}`,
    { cause: error },
  );
}

/** A store URL fit for output and logs: the password, if any, masked as the store's location is. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@]+)@/, '//$1:***@');
}
