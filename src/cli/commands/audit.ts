import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { globalOptions, positiveIntegerOption, timestampOption, withRuntime } from '../context.js';
import { clipText, printJson, printTable, shortTime } from '../output.js';
import { remoteClient } from '../remote.js';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('every authenticated write through the API: who, what, on which object, when')
    .option('--principal <name>', 'entries by this principal, e.g. token:prometheus or hmac:signals')
    .option('--target <id>', 'entries about this object (incident, recommendation, rule, token…)')
    .option('--action <text>', 'entries whose action contains this text, e.g. /notes or DELETE')
    .option('--since <time>', 'from this time (ISO-8601)', timestampOption('--since'))
    .option('--until <time>', 'before this time (ISO-8601)', timestampOption('--until'))
    .option('--limit <n>', 'how many, newest first', positiveIntegerOption('--limit', 100_000), 50)
    .action(
      async (
        options: {
          principal?: string;
          target?: string;
          action?: string;
          since?: number;
          until?: number;
          limit: number;
        },
        command: Command,
      ) => {
        if (options.since !== undefined && options.until !== undefined && options.until <= options.since)
          throw new OpxError('invalid_request', '--until must be after --since', { path: 'until' });
        const client = remoteClient(command);
        if (client && options.limit > 1000)
          throw new OpxError('invalid_request', '--limit: the API answers at most 1000 audit entries', {
            path: 'limit',
          });
        const entries = client
          ? (
              await client.audit({
                ...(options.principal ? { principal: options.principal } : {}),
                ...(options.target ? { target: options.target } : {}),
                ...(options.action ? { action: options.action } : {}),
                ...(options.since !== undefined ? { since: new Date(options.since) } : {}),
                ...(options.until !== undefined ? { until: new Date(options.until) } : {}),
                limit: options.limit,
              })
            ).items
          : await withRuntime(command, ({ store }) => store.audit.list(options));
        if (globalOptions(command).json) return printJson(entries);
        if (entries.length === 0) {
          process.stdout.write('no audit entries match\n');
          return;
        }
        printTable(
          ['at', 'principal', 'action', 'target', 'status', 'detail'],
          entries.map((entry) => {
            const { status, requestId: _requestId, ...rest } = entry.detail as Record<string, unknown>;
            return [
              shortTime(entry.at),
              entry.principal,
              entry.action,
              entry.target ?? '',
              String(status ?? ''),
              clipText(Object.keys(rest).length ? JSON.stringify(rest) : '', 60),
            ];
          }),
        );
      },
    );
}
