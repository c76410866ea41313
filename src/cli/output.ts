import Table from 'cli-table3';
import { OpxApiError } from '../client/index.js';
import { OpxError } from '../domain/errors.js';
import { describeRemoteError } from './remote.js';

export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(head: string[], rows: (string | number | null | undefined)[][]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  process.stdout.write(`${table.toString()}\n`);
}

export function printFields(fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([name]) => name.length));
  for (const [name, value] of fields) {
    const text =
      value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    process.stdout.write(`${name.padEnd(width)}  ${text}\n`);
  }
}

/** A time as `2026-11-24 09:36:33Z`, from epoch ms (the store) or ISO-8601 text (the API). */
export function shortTime(time: number | string | null | undefined): string {
  if (time === null || time === undefined) return '';
  const epochMs = typeof time === 'string' ? Date.parse(time) : time;
  if (Number.isNaN(epochMs)) return String(time);
  return new Date(epochMs)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

export function clipText(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

/** Prints an error the way a user can act on and returns the exit code. */
export function reportError(error: unknown): number {
  const remote = describeRemoteError(error);
  if (remote !== undefined) {
    process.stderr.write(`error: ${remote}\n`);
    return error instanceof OpxApiError && error.status < 500 ? 2 : 1;
  }
  if (error instanceof OpxError) {
    process.stderr.write(
      `error: ${error.message}${error.path ? ` (at ${error.path})` : ''} [${error.code}]\n`,
    );
    return error.status >= 500 ? 1 : 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.OPX_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
