import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { ADAPTERS, INGEST_FORMATS, isIngestFormat } from '../../ingest/adapters/index.js';
import { cliPrincipal, globalOptions, withRuntime } from '../context.js';
import { printJson, printTable } from '../output.js';

function readInput(file: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (error) {
    throw new OpxError(
      'invalid_request',
      `cannot read ${file === '-' ? 'standard input' : file}: ${(error as Error).message}`,
    );
  }
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description("ingest a payload file (or - for stdin) in a source's native format")
    .requiredOption('-f, --format <format>', `one of ${INGEST_FORMATS.join(', ')}`)
    .argument('<file>', 'payload file, or - for standard input')
    .action(async (file: string, options: { format: string }, command: Command) => {
      if (!isIngestFormat(options.format)) {
        throw new OpxError(
          'invalid_request',
          `unknown format ${JSON.stringify(options.format)}: use one of ${INGEST_FORMATS.join(', ')}`,
        );
      }
      const text = readInput(file);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new OpxError('invalid_json', `${file} is not valid JSON: ${(error as Error).message}`);
      }
      const now = Date.now();
      const parsed = ADAPTERS[options.format](body, { now });
      if (!parsed.ok)
        throw new OpxError(
          parsed.error.code,
          parsed.error.message,
          parsed.error.path ? { path: parsed.error.path } : {},
        );
      await withRuntime(command, async (runtime) => {
        const principal = cliPrincipal();
        const result = await runtime.writes.run(async (scope) => {
          const ingested = await runtime.ingest.ingestInScope(scope, parsed.signals, principal, now);
          const changes = await runtime.ingest.recordChanges(scope, parsed.changes, now);
          await runtime.ingest.recordConfirmations(scope, parsed.confirmations);
          return { ...ingested, changes };
        });
        if (globalOptions(command).json) {
          printJson(result);
          return;
        }
        printTable(
          ['signal', 'fingerprint', 'action', 'status', 'incidents'],
          result.signals.map((signal) => [
            signal.id ?? '-',
            signal.fingerprint,
            signal.suppressedBy ? `${signal.action} (suppressed)` : signal.action,
            signal.status,
            signal.incidentIds.join(' '),
          ]),
        );
        for (const { change, created } of result.changes)
          process.stdout.write(`change ${change.id} ${created ? 'recorded' : 'already known'}\n`);
        if (parsed.confirmations.length > 0)
          process.stdout.write(
            `${parsed.confirmations.length} SNS subscription confirmation(s) recorded; see \`opx sns list\`\n`,
          );
        process.stdout.write(
          `incidents created: ${result.incidentsCreated.join(' ') || 'none'}; updated: ${result.incidentsUpdated.join(' ') || 'none'}\n`,
        );
      });
    });
}
