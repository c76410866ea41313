import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { checkText } from '../../guardrails/check.js';
import { globalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

export function registerGuardrails(program: Command): void {
  const guardrails = program.command('guardrails').description('PII, secret and prompt-injection checks');
  guardrails
    .command('check')
    .argument('<text>', 'the text to check, or - to read standard input')
    .option('--json', 'print the report as JSON')
    .description('show what the guardrails would allow, anonymize or block in a text')
    .action((text: string, options: { json?: boolean }, command: Command) => {
      let input = text;
      if (text === '-') {
        try {
          input = readFileSync(0, 'utf8');
        } catch (error) {
          throw new OpxError('invalid_request', `cannot read standard input: ${(error as Error).message}`);
        }
      }
      const report = checkText(input);
      if (options.json || globalOptions(command).json) return printJson(report);
      process.stdout.write(`action: ${report.action}${report.reason ? ` (${report.reason})` : ''}\n`);
      if (report.entities.length > 0)
        printTable(
          ['type', 'start', 'end', 'score', 'mode'],
          report.entities.map((entity) => [entity.type, entity.start, entity.end, entity.score, entity.mode]),
        );
      process.stdout.write(`redacted: ${report.redacted}\n`);
      for (const finding of report.content.findings)
        process.stdout.write(
          `content ${report.content.action}: ${finding.category} (${finding.rule}) at ${finding.start}-${finding.end}\n`,
        );
    });
}
