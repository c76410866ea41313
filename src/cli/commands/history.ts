import type { Command } from 'commander';
import { importHistory, readHistoryDirectory } from '../../incidents/history.js';
import { cliPrincipal, globalOptions, withRuntime } from '../context.js';
import { printJson } from '../output.js';

export function registerHistory(program: Command): void {
  program
    .command('history')
    .description('past incidents and changes')
    .command('import')
    .argument('<dir>', 'directory holding incidents.yaml and changes.yaml (see examples/history)')
    .description('load resolved past incidents and the change history; re-running adds nothing')
    .action(async (dir: string, _options: unknown, command: Command) => {
      const history = readHistoryDirectory(dir);
      await withRuntime(command, async (runtime) => {
        const report = await runtime.writes.run((scope) => importHistory(scope, history, cliPrincipal()));
        if (globalOptions(command).json) return printJson(report);
        process.stdout.write(
          `incidents: ${report.incidents.created} imported, ${report.incidents.existing} already there; ` +
            `changes: ${report.changes.created} imported, ${report.changes.existing} already there\n`,
        );
      });
    });
}
