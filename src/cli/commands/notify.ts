import { readFileSync } from 'node:fs';
import { Argument, type Command, Option } from 'commander';
import { OpxError } from '../../domain/errors.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../../domain/notification.js';
import { importNotifications, parseNotificationFile, testRoute } from '../../notify/admin.js';
import { notifyContext } from '../../notify/worker.js';
import { globalOptions, positiveIntegerOption, withRuntime } from '../context.js';
import { clipText, printJson, printTable, shortTime } from '../output.js';

export function registerNotify(program: Command): void {
  const notify = program
    .command('notify')
    .description('notifications: channels, routes, deliveries (docs/notifications.md)');

  notify
    .command('import')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's syntax for an environment variable
    .argument('<file>', 'a YAML file of channels and routes; ${NAME} is read from the environment')
    .description('create or update, by name, the channels and routes of a file')
    .action(async (file: string, _options: unknown, command: Command) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new OpxError(
          'invalid_request',
          `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      const parsed = parseNotificationFile(text);
      await withRuntime(command, async (runtime) => {
        const result = await runtime.writes.run((scope) => importNotifications(scope, parsed));
        if (globalOptions(command).json) return printJson(result);
        for (const item of result.channels) process.stdout.write(`channel ${item.name}: ${item.action}\n`);
        for (const item of result.routes) process.stdout.write(`route ${item.name}: ${item.action}\n`);
      });
    });

  notify
    .command('channels')
    .description('the channels (never their secrets)')
    .action(async (_options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const items = await store.notifications.listChannels();
        if (globalOptions(command).json) return printJson(items);
        printTable(
          ['name', 'type', 'settings', 'updated'],
          items.map((item) => [
            item.name,
            item.type,
            clipText(JSON.stringify(item.settings), 60),
            shortTime(item.updatedAt),
          ]),
        );
      });
    });

  notify
    .command('routes')
    .description('the routes: which incidents go to which channels')
    .action(async (_options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const items = await store.notifications.listRoutes();
        if (globalOptions(command).json) return printJson(items);
        printTable(
          ['name', 'enabled', 'match', 'events', 'channels'],
          items.map((item) => [
            item.name,
            item.enabled ? 'yes' : 'no',
            clipText(JSON.stringify(item.match), 50),
            item.events.join(','),
            item.channels.join(','),
          ]),
        );
      });
    });

  notify
    .command('remove')
    .addArgument(new Argument('<kind>', 'channel or route').choices(['channel', 'route']))
    .argument('<name>', 'its name or id')
    .description('delete a channel (no route may use it) or a route')
    .action(async (kind: string, name: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const removed = await runtime.writes.run((scope) =>
          kind === 'channel'
            ? scope.notifications.deleteChannel(name)
            : scope.notifications.deleteRoute(name),
        );
        if (!removed) throw new OpxError('not_found', `no notification ${kind} ${name}`);
        process.stdout.write(`${kind} ${name} deleted\n`);
      });
    });

  notify
    .command('deliveries')
    .description('messages sent and to send, newest first, with their attempts and the receiver’s answer')
    .addOption(new Option('--status <status>').choices(DELIVERY_STATUSES))
    .option('--incident <id>', 'only this incident’s')
    .option('--limit <n>', 'how many, newest first', positiveIntegerOption('--limit', 1000), 50)
    .action(
      async (options: { status?: DeliveryStatus; incident?: string; limit: number }, command: Command) => {
        await withRuntime(command, async ({ store }) => {
          const items = await store.notifications.deliveries({
            ...(options.status ? { status: options.status } : {}),
            ...(options.incident ? { incidentId: options.incident } : {}),
            limit: options.limit,
          });
          if (globalOptions(command).json) return printJson(items);
          printTable(
            ['id', 'incident', 'channel', 'event', 'status', 'attempts', 'created', 'answer / last error'],
            items.map((item) => [
              item.id,
              item.incidentId,
              item.channelName,
              item.event,
              item.status,
              item.attempts,
              shortTime(item.createdAt),
              clipText(
                item.status === 'sent' || item.status === 'skipped'
                  ? (item.detail ?? '')
                  : (item.lastError ?? ''),
                50,
              ),
            ]),
          );
        });
      },
    );

  notify
    .command('redrive')
    .argument('<delivery>', 'a dead delivery’s id')
    .description('send a dead delivery again with fresh attempts')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        await runtime.writes.run((scope) => scope.notifications.redrive(id));
        process.stdout.write(`${id} queued again; a running worker sends it\n`);
      });
    });

  notify
    .command('test')
    .argument('<route>', 'its name or id')
    .description(
      'send a sample message through each channel of a route, and say whether it matches recent incidents',
    )
    .action(async (route: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const result = await testRoute(notifyContext(runtime), route);
        if (globalOptions(command).json) printJson(result);
        else {
          process.stdout.write(
            `route ${result.route}: matches ${result.matched} of the last ${result.recentIncidents} incidents\n`,
          );
          if (result.warning) process.stdout.write(`warning: ${result.warning}\n`);
          for (const item of result.results)
            process.stdout.write(
              `  ${item.ok ? 'sent' : 'FAILED'} ${item.channel}${item.status === null ? '' : ` (${item.status})`}: ${item.detail}\n`,
            );
        }
        if (result.results.some((item) => !item.ok)) process.exitCode = 1;
      });
    });
}
