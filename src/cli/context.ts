import { existsSync } from 'node:fs';
import os from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { parseTimestamp } from '../domain/common.js';
import { OpxError } from '../domain/errors.js';
import type { Runtime } from '../runtime.js';
import type { Store } from '../store/store.js';

export interface GlobalOptions {
  dataDir?: string;
  databaseUrl?: string;
  config?: string;
  json?: boolean;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/**
 * Opens the store for one CLI command and always closes it. A SQLite data directory that does not
 * exist is refused rather than created: only `serve`, `migrate` and `demo` create a store, so a
 * mistyped `--data-dir` is not taken for a new, empty one.
 */
async function existingStoreConfig(command: Command) {
  const { configFrom } = await import('./config.js');
  const config = configFrom(command);
  if (!config.databaseUrl && !existsSync(config.dataDir))
    throw new OpxError(
      'invalid_request',
      `no OPX store at ${config.dataDir}: check --data-dir or OPX_DATA_DIR (\`opx migrate\`, \`opx serve\` and \`opx demo\` create one)`,
      { path: 'data-dir' },
    );
  return config;
}

export async function withRuntime<T>(command: Command, work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const config = await existingStoreConfig(command);
  // Loaded here, not at the top: a command that never opens the store (--help, a remote call) does
  // not pay for the store, LangGraph and the model SDKs the runtime brings.
  const { openRuntime } = await import('../runtime.js');
  const runtime = await openRuntime(config);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/**
 * For a command that only reads: the store alone, without the ingest, knowledge and investigation
 * parts of the runtime, which a read does not use and which take most of a command's start-up.
 */
export async function withStore<T>(command: Command, work: (store: Store) => Promise<T>): Promise<T> {
  const config = await existingStoreConfig(command);
  const [{ storeUrl }, { loadCipher }, { openStore }] = await Promise.all([
    import('../config/index.js'),
    import('../store/crypto.js'),
    import('../store/store.js'),
  ]);
  const store = await openStore(storeUrl(config), {
    cipher: loadCipher(config),
    lockTimeoutMs: config.storeLockTimeoutMs,
  });
  try {
    // Only a store exactly at this release's schema: one with pending migrations, or one a newer
    // release migrated (which counts as current by the migrations this release knows), goes
    // through withRuntime, which migrates the first and refuses the second.
    const plan = await store.migrationPlan();
    if (plan.refusal === undefined && plan.pending.length === 0) return await work(store);
  } finally {
    await store.close();
  }
  return withRuntime(command, (runtime) => work(runtime.store));
}

/** Who acts when a person runs the CLI on the store directly. */
export function cliPrincipal(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `cli:${user}`;
}

/** Commander's parser for a time option: ISO-8601 or epoch milliseconds, as the API takes. */
export function timestampOption(name: string) {
  return (value: string): number => {
    const parsed = parseTimestamp(value);
    if (parsed === undefined)
      throw new InvalidArgumentError(`${name} must be an ISO-8601 time or epoch milliseconds`);
    return parsed;
  };
}

/** Commander's parser for a whole-number option from 1 to `max`. */
export function positiveIntegerOption(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > max)
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    return parsed;
  };
}
