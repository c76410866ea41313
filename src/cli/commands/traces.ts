import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { globalOptions, withRuntime } from '../context.js';
import { clipText, printFields, printJson, printTable, shortTime } from '../output.js';

export function registerTraces(program: Command): void {
  const traces = program
    .command('traces')
    .description('recorded language model calls (prompts and answers are redacted)');
  traces
    .command('list')
    .option('--incident <id>', 'calls made for this incident')
    .option('--agent <name>', 'calls made by this agent')
    .option('--limit <n>', 'how many, newest first', '50')
    .action(async (options: { incident?: string; agent?: string; limit: string }, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const items = await store.safety.traces({
          ...(options.incident ? { incidentId: options.incident } : {}),
          ...(options.agent ? { agent: options.agent } : {}),
          limit: Number(options.limit) || 50,
        });
        if (globalOptions(command).json) return printJson(items);
        printTable(
          ['id', 'at', 'agent', 'model', 'try', 'status', 'in/out tokens', 'USD', 'ms', 'error'],
          items.map((trace) => [
            trace.id,
            shortTime(trace.createdAt),
            trace.agent,
            `${trace.provider}/${trace.model}`,
            trace.attempt,
            trace.status,
            `${trace.inputTokens ?? '?'}/${trace.outputTokens ?? '?'}`,
            trace.costUsd === null ? '?' : trace.costUsd.toFixed(6),
            trace.latencyMs,
            clipText(trace.error ?? '', 40),
          ]),
        );
      });
    });
  traces
    .command('show')
    .argument('<id>')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const trace = await store.safety.trace(id);
        if (!trace) throw new OpxError('not_found', `no trace ${id}; \`opx traces list\` lists them`);
        if (globalOptions(command).json) return printJson(trace);
        printFields([
          ['id', trace.id],
          ['incident', trace.incidentId],
          ['agent', trace.agent],
          ['model', `${trace.provider}/${trace.model}`],
          ['attempt', trace.attempt],
          ['status', trace.status],
          ['tokens in / out', `${trace.inputTokens ?? 'unknown'} / ${trace.outputTokens ?? 'unknown'}`],
          [
            'cache read / write',
            `${trace.cacheReadTokens ?? 'unknown'} / ${trace.cacheWriteTokens ?? 'unknown'}`,
          ],
          ['cost', trace.costUsd === null ? 'unknown' : `$${trace.costUsd.toFixed(6)}`],
          ['latency', `${trace.latencyMs} ms`],
          ['error', trace.error ?? ''],
        ]);
        process.stdout.write(
          `\n--- prompt (redacted) ---\n${trace.prompt}\n\n--- response (redacted) ---\n${trace.response ?? ''}\n`,
        );
      });
    });
}
