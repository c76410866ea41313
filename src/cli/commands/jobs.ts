import type { Command } from 'commander';
import { OpxError } from '../../domain/errors.js';
import type { JobStatus } from '../../store/repositories/jobs.js';
import { globalOptions, withRuntime } from '../context.js';
import { clipText, printJson, printTable, shortTime } from '../output.js';

const STATUSES: JobStatus[] = ['pending', 'running', 'done', 'dead'];

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('the background job queue: leases, retries, dead letters');

  const list = async (
    command: Command,
    status: JobStatus | undefined,
    kind: string | undefined,
    limit: number,
  ) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.jobs.list({
        ...(status ? { status } : {}),
        ...(kind ? { kind } : {}),
        limit,
      });
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['id', 'kind', 'status', 'attempts', 'run at', 'lease owner', 'last error'],
        items.map((job) => [
          job.id,
          job.kind,
          job.status,
          `${job.attempts}/${job.maxAttempts}`,
          shortTime(job.runAt),
          job.leaseOwner,
          clipText(job.lastError ?? '', 50),
        ]),
      );
    });
  };

  jobs
    .command('list')
    .option('--status <status>', STATUSES.join('|'))
    .option('--kind <kind>')
    .option('--limit <n>', 'how many', '50')
    .action(async (options: { status?: string; kind?: string; limit: string }, command: Command) => {
      if (options.status && !STATUSES.includes(options.status as JobStatus)) {
        throw new OpxError('invalid_request', `--status must be one of ${STATUSES.join(', ')}`);
      }
      await list(command, options.status as JobStatus | undefined, options.kind, Number(options.limit) || 50);
    });

  jobs
    .command('dead')
    .description('jobs that used all their attempts')
    .action(async (_options: unknown, command: Command) => list(command, 'dead', undefined, 200));

  jobs
    .command('redrive')
    .argument('<id>')
    .description('queue a dead job again with fresh attempts')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const redriven = await runtime.writes.run((scope) => scope.jobs.redrive(id));
        if (!redriven) throw new OpxError('not_found', `no dead job ${id}; \`opx jobs dead\` lists them`);
        process.stdout.write(`${id} queued again\n`);
      });
    });
}
