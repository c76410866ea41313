import type { Command } from 'commander';
import { ALARM_NAMES, configuredNotifier, evaluateAlarms } from '../../analytics/alarms.js';
import { reportWindow, tokenReport } from '../../analytics/tokens.js';
import type { UsageRow } from '../../store/repositories/analytics.js';
import { globalOptions, positiveIntegerOption, timestampOption, withRuntime } from '../context.js';
import { printFields, printJson, printTable, shortTime } from '../output.js';
import { remoteClient } from '../remote.js';

const BAR_WIDTH = 30;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `value` against `max`, in eighths of a character. */
export function bar(value: number, max: number, width = BAR_WIDTH): string {
  if (max <= 0 || value <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

const dollars = (value: number) => `$${value.toFixed(value >= 1 ? 2 : 4)}`;
const count = (value: number) => value.toLocaleString('en-US');

function usageTable(title: string, key: (row: UsageRow) => string, rows: readonly UsageRow[]): void {
  process.stdout.write(`\n== ${title} ==\n`);
  if (rows.length === 0) {
    process.stdout.write('no model calls\n');
    return;
  }
  const max = Math.max(...rows.map((row) => row.costUsd));
  printTable(
    ['', 'calls', 'input', 'cached', 'output', 'cost', ''],
    rows.map((row) => [
      key(row),
      count(row.calls),
      count(row.inputTokens),
      count(row.cacheReadTokens),
      count(row.outputTokens),
      dollars(row.costUsd),
      bar(row.costUsd, max),
    ]),
  );
}

export function registerAnalytics(program: Command): void {
  program
    .command('costs')
    .description(
      'tokens and cost of the agents’ model calls by day, agent and model, and the month against the budget',
    )
    .option('--days <n>', 'the last n days, today included', positiveIntegerOption('--days', 3660), 30)
    .option('--since <time>', 'start of the window (overrides --days)', timestampOption('--since'))
    .option('--until <time>', 'end of the window (default now)', timestampOption('--until'))
    .action(async (options: { days: number; since?: number; until?: number }, command: Command) => {
      const now = Date.now();
      const window = reportWindow(options, now, { message: '--until must be after --since', path: 'until' });
      const client = remoteClient(command);
      // Remotely the server's budget settings apply: the report comes from its store and its config.
      const report = client
        ? await client.tokenUsage({
            days: options.days,
            ...(options.since === undefined ? {} : { since: new Date(options.since) }),
            ...(options.until === undefined ? {} : { until: new Date(options.until) }),
          })
        : await withRuntime(command, (runtime) =>
            tokenReport(runtime.store, {
              ...window,
              budgetUsd: runtime.config.budgetMonthlyUsd,
              hardCap: runtime.config.budgetHardCap,
              now,
            }),
          );
      {
        if (globalOptions(command).json) return printJson(report);
        const { total, budget } = report;
        process.stdout.write(
          `${report.since.slice(0, 10)} to ${report.until.slice(0, 10)}: ${count(total.calls)} model calls, ` +
            `${count(total.inputTokens + total.cacheReadTokens + total.cacheWriteTokens)} tokens in, ${count(total.outputTokens)} out, ${dollars(total.costUsd)}\n`,
        );
        if (total.unpricedCalls > 0)
          process.stdout.write(
            `${total.unpricedCalls} calls have no price (model not in the price table, or no token counts): set OPX_LLM_PRICES\n`,
          );
        usageTable('By day', (row) => row.day ?? '', report.byDay);
        usageTable('By agent', (row) => row.agent ?? '(none)', report.byAgent);
        usageTable('By model', (row) => row.model ?? '', report.byModel);
        const { investigations } = report;
        process.stdout.write('\n== Per investigation ==\n');
        printFields([
          ['investigations', investigations.count],
          [
            'cost mean / median / max',
            `${dollars(investigations.meanUsd)} / ${dollars(investigations.medianUsd)} / ${dollars(investigations.maxUsd)}`,
          ],
        ]);
        process.stdout.write('\n== Budget (this month, UTC) ==\n');
        printFields([
          [
            'spent',
            `${dollars(budget.spentUsd)} of ${dollars(budget.budgetUsd)} (${Math.round(budget.fraction * 100)}%)`,
          ],
          ['', `${bar(Math.min(budget.fraction, 1), 1, 40)}${budget.fraction >= 1 ? ' over' : ''}`],
          [
            'on reaching it',
            budget.hardCap ? 'agents use the deterministic engine (hard cap)' : 'nothing changes (advisory)',
          ],
        ]);
      }
    });

  program
    .command('alarms')
    .description(
      `evaluate and show the alarms (${ALARM_NAMES.length}: guardrails, budget, cost spike, validation) and their history`,
    )
    .option(
      '--history <n>',
      'state changes to show, newest first',
      positiveIntegerOption('--history', 1000),
      20,
    )
    .option('--no-evaluate', 'show the stored states without evaluating now')
    .action(async (options: { history: number; evaluate: boolean }, command: Command) => {
      const client = remoteClient(command);
      // Remotely: the states the server keeps (it evaluates on its own schedule; `POST
      // /v1/alarms/evaluate` is for admin tokens), not an evaluation by this process.
      const { alarms, history, changes } = client
        ? { ...(await client.alarms({ history: options.history })), changes: [] }
        : await withRuntime(command, async (runtime) => {
            const notify = configuredNotifier(runtime.config);
            const evaluated = options.evaluate
              ? await evaluateAlarms(runtime.store, runtime.config, notify ? { notify } : {})
              : undefined;
            return {
              alarms: await runtime.store.analytics.alarms(),
              history: await runtime.store.analytics.alarmHistory({ limit: options.history }),
              changes: evaluated?.changes ?? [],
            };
          });
      if (globalOptions(command).json) return printJson({ alarms, history, changes });
      if (alarms.length === 0) {
        process.stdout.write(
          client
            ? 'the server has not evaluated any alarm yet: it does on its own schedule, and an admin token can ask now (POST /v1/alarms/evaluate)\n'
            : 'no alarm has been evaluated yet: run `opx alarms` without --no-evaluate\n',
        );
        return;
      }
      printTable(
        ['alarm', 'state', 'since', 'why'],
        alarms.map((alarm) => [alarm.name, alarm.state, shortTime(alarm.updatedAt), alarm.reason]),
      );
      if (history.length > 0) {
        process.stdout.write('\n== State changes ==\n');
        printTable(
          ['at', 'alarm', 'from', 'to', 'why'],
          history.map((item) => [shortTime(item.at), item.alarm, item.from, item.to, item.reason]),
        );
      }
    });
}
