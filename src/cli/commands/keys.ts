import type { Command } from 'commander';
import { generateKeyEntry } from '../../store/crypto.js';
import { keyUsage, reencrypt } from '../../store/reencrypt.js';
import { globalOptions, positiveIntegerOption, withRuntime } from '../context.js';
import { printJson, printTable } from '../output.js';

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('encryption keys for the sensitive columns (docs/security.md explains rotation)');
  keys
    .command('generate')
    .description('print a new "id:base64key" entry to put first in OPX_ENCRYPTION_KEYS or the key file')
    .action(() => {
      process.stdout.write(`${generateKeyEntry()}\n`);
    });
  keys
    .command('status')
    .description('the active key, and how many stored values each key protects')
    .action(async (_options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const usage = await keyUsage(store);
        const active = store.cipher?.activeKeyId ?? null;
        if (globalOptions(command).json)
          return printJson({ activeKeyId: active, keyIds: store.cipher?.keyIds ?? [], usage });
        process.stdout.write(
          `active key: ${active ?? 'none'}; configured: ${store.cipher?.keyIds.join(', ') ?? 'none'}\n`,
        );
        printTable(
          ['table', 'column', 'values by key'],
          usage.map((item) => [
            item.table,
            item.column,
            Object.entries(item.byKey)
              .map(([key, count]) => `${key}: ${count}`)
              .join(', ') || 'empty',
          ]),
        );
      });
    });
  keys
    .command('reencrypt')
    .description('rewrite every value under the active key; afterwards older keys can be removed')
    .option('--batch <n>', 'rows per transaction', positiveIntegerOption('--batch', 100_000), 500)
    .action(async (options: { batch: number }, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const json = globalOptions(command).json;
        const result = await reencrypt(store, {
          batchSize: options.batch,
          progress: (done) => {
            if (!json) process.stderr.write(`  ${done.table}.${done.column}: ${done.rows} rewritten\n`);
          },
        });
        if (json) return printJson({ activeKeyId: store.cipher?.activeKeyId, ...result });
        process.stdout.write(
          `${result.rewritten} values now under key ${store.cipher?.activeKeyId}; \`opx keys status\` shows what is left\n`,
        );
      });
    });
}
