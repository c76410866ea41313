import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { importKnowledge, readKnowledgeDirectory } from '../../knowledge/import.js';
import { globalOptions, withRuntime } from '../context.js';
import { clipText, printJson, printTable } from '../output.js';
import { remoteClient } from '../remote.js';

export function registerKnowledge(program: Command): void {
  const kb = program.command('kb').description('runbooks and postmortems: import and ranked search');

  kb.command('import')
    .argument(
      '<dir>',
      'directory of Markdown files; front matter (title, kind, services, alerts) optional, any other keys kept',
    )
    .description(
      'import or refresh a knowledge base; unchanged files are left as they are; exits 1 when a file could not be read',
    )
    .action(async (dir: string, _options: unknown, command: Command) => {
      const json = globalOptions(command).json ?? false;
      const { prepared, skipped, ignored } = readKnowledgeDirectory(dir);
      await withRuntime(command, async (runtime) => {
        let done = 0;
        const report = await runtime.writes.run((scope) =>
          importKnowledge(scope, prepared, (path, outcome) => {
            done += 1;
            if (!json && outcome !== 'unchanged')
              process.stderr.write(`[${done}/${prepared.length}] ${outcome} ${path}\n`);
          }),
        );
        // Files that could not be read are named, the rest are imported, and the exit code says so.
        if (skipped.length > 0) process.exitCode = 1;
        if (json) return printJson({ ...report, skipped, ignored });
        process.stdout.write(
          `${report.created.length} new, ${report.updated.length} updated, ${report.unchanged.length} unchanged (${report.chunks} chunks written)` +
            `${skipped.length > 0 ? `; ${skipped.length} skipped` : ''}\n`,
        );
        for (const item of ignored) process.stdout.write(`  ignored ${item.path}: ${item.reason}\n`);
        for (const item of skipped) process.stderr.write(`  skipped ${item.path}: ${item.reason}\n`);
      });
    });

  kb.command('search')
    .argument('[words...]', 'symptoms or error text')
    .option('--service <name>', 'the affected service')
    .option('--alert <name>', 'the alert that fired')
    .option('--kind <kind>', 'runbook or postmortem')
    .option('--limit <n>', 'how many hits', '5')
    .description('ranked search (BM25) over runbook and postmortem sections')
    .action(
      async (
        words: string[],
        options: { service?: string; alert?: string; kind?: string; limit: string },
        command: Command,
      ) => {
        const text = words.join(' ').trim();
        if (!text && !options.service && !options.alert)
          throw new OpxError('invalid_request', 'give search words, --service or --alert');
        if (options.kind && options.kind !== 'runbook' && options.kind !== 'postmortem') {
          throw new OpxError('invalid_request', '--kind must be runbook or postmortem');
        }
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 50)
          throw new OpxError('invalid_request', '--limit must be 1-50');
        const { service, alert } = options;
        const kind = options.kind as 'runbook' | 'postmortem' | undefined;
        const client = remoteClient(command);
        const hits = client
          ? (await client.searchKnowledge({ ...(text ? { q: text } : {}), service, alert, kind, limit }))
              .items
          : await withRuntime(command, (runtime) =>
              runtime.knowledge.search({ text, service, alert, kind, limit }),
            );
        if (globalOptions(command).json) return printJson(hits);
        printTable(
          ['score', 'kind', 'document', 'section'],
          hits.map((hit) => [hit.score.toFixed(2), hit.kind, hit.path, clipText(hit.heading, 60)]),
        );
      },
    );

  kb.command('list')
    .description('imported documents')
    .action(async (_options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const documents = await store.knowledge.list();
        if (globalOptions(command).json)
          return printJson(documents.map(({ body: _body, ...document }) => document));
        printTable(
          ['path', 'kind', 'title', 'services', 'alerts'],
          documents.map((document) => [
            document.path,
            document.kind,
            clipText(document.title, 50),
            document.services.join(','),
            document.alerts.join(','),
          ]),
        );
      });
    });
}
