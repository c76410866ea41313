import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A bad flag: its message is printed above the usage, and the benchmark exits 2. */
export class UsageError extends Error {}

export type Parsed<P> = { ok: true; parameters: P } | { ok: false; exitCode: number };

/**
 * Runs a benchmark's flag parser: `help` prints the usage (exit 0), a UsageError prints the message and
 * the usage (exit 2); anything else thrown is a bug and propagates.
 */
export function parseFlags<P>(
  argv: string[],
  parse: (argv: string[]) => P | 'help',
  usage: string,
): Parsed<P> {
  try {
    const parsed = parse(argv);
    if (parsed === 'help') {
      process.stdout.write(`${usage}\n`);
      return { ok: false, exitCode: 0 };
    }
    return { ok: true, parameters: parsed };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}\n`);
    return { ok: false, exitCode: 2 };
  }
}

/** Strict node:util parseArgs over a benchmark's flags; an unknown or malformed flag is a UsageError. */
export function readArgs<const T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** An integer flag within [min, max]; `fallback` when absent. */
export function integerFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range} (got ${JSON.stringify(value)})`);
  }
  return parsed;
}
