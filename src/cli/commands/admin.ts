import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { createToken, parseScopes } from '../../auth/tokens.js';
import { parseBackstageCatalog } from '../../catalog/backstage.js';
import { CHANGE_KINDS, changeInputSchema } from '../../domain/change.js';
import { parseTimestamp } from '../../domain/common.js';
import { formatPath, OpxError } from '../../domain/errors.js';
import { ruleInputSchema, silenceInputSchema } from '../../domain/rule.js';
import { dryRunRules, ruleSetSchema } from '../../ingest/dry-run.js';
import { cliPrincipal, globalOptions, timestampOption, withRuntime } from '../context.js';
import { clipText, printJson, printTable, shortTime } from '../output.js';

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A window start: a duration back from now (30d, 12h, 90m) or a time. */
function windowStart(name: string) {
  const asTime = timestampOption(name);
  return (value: string): number => {
    const match = DURATION.exec(value.trim());
    if (match) return Date.now() - Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
    return asTime(value);
  };
}

function readStructured(file: string): unknown {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (error) {
    throw new OpxError('invalid_request', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new OpxError('invalid_request', `${file} is neither JSON nor YAML: ${(error as Error).message}`);
  }
}

function validate<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new OpxError(
    'invalid_request',
    `${source}: ${formatPath(issue.path) || 'document'}: ${issue.message}`,
    { path: formatPath(issue.path) },
  );
}

export function registerAdmin(program: Command): void {
  const rules = program.command('rules').description('correlation rules: data, versioned on every edit');
  rules.command('list').action(async (_options: unknown, command: Command) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.rules.list({ includeDisabled: true });
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['name', 'kind', 'v', 'on', 'matchers', 'group by', 'window', 'threshold', 'sev'],
        items.map((rule) => [
          rule.name,
          rule.kind,
          rule.version,
          rule.enabled ? 'yes' : 'no',
          clipText(
            rule.matchers
              .map(
                (matcher) =>
                  `${matcher.field}${matcher.op}${'values' in matcher ? matcher.values.join('|') : matcher.value}`,
              )
              .join(' '),
            30,
          ),
          rule.kind === 'topology' ? `graph, ${rule.hops} hops` : rule.groupBy.join(','),
          `${rule.windowSeconds}s`,
          rule.kind === 'topology'
            ? rule.opens
              ? `joins; opens on ${rule.opens.services} services`
              : 'joins only'
            : `${rule.threshold.value} ${rule.threshold.kind === 'count' ? 'signals' : 'services'}${
                rule.sustainedSeconds ? `, firing ${rule.sustainedSeconds}s` : ''
              }`,
          rule.kind === 'topology' ? '' : rule.severity,
        ]),
      );
    });
  });
  rules
    .command('test')
    .argument('<file>', 'a rule set: a YAML or JSON list of rules, or {rules: [...]}; - reads standard input')
    .option(
      '--since <when>',
      'replay signals received since this time or this long ago: 30d, 12h, 90m (default 7d)',
      windowStart('--since'),
    )
    .option('--until <time>', 'up to this time (default now)', timestampOption('--until'))
    .description(
      'rehearse a rule set on stored signals: what it would open, merge and page, against what happened',
    )
    .action(async (file: string, options: { since?: number; until?: number }, command: Command) => {
      const candidate = validate(ruleSetSchema, readStructured(file), file);
      const until = options.until ?? Date.now();
      const since = options.since ?? until - 7 * UNIT_MS.d;
      await withRuntime(command, async (runtime) => {
        const report = await dryRunRules(runtime.store, candidate, {
          since,
          until,
          reopenGraceMs: runtime.ingest.settings.reopenGraceMs,
          autoResolve: runtime.ingest.settings.autoResolve,
        });
        if (globalOptions(command).json) return printJson(report);
        process.stdout.write(
          `${report.signals} signals received ${shortTime(report.since)} to ${shortTime(report.until)}${report.truncated ? ` (only the newest ${report.signals}: more were received)` : ''}\n\n`,
        );
        printTable(
          ['', 'opened', 'merged', 'left open', 'pages (SEV1/SEV2)'],
          [
            [
              'this rule set',
              report.candidate.opened,
              report.candidate.merged,
              report.candidate.opened - report.candidate.merged,
              report.candidate.pages,
            ],
            [
              'what happened',
              report.actual.opened,
              report.actual.merged,
              report.actual.opened - report.actual.merged,
              report.actual.pages,
            ],
          ],
        );
        if (report.candidate.incidents.length === 0) return;
        process.stdout.write('\nincidents this rule set would open:\n');
        printTable(
          ['severity', 'origin', 'services', 'signals', 'merged', 'title'],
          report.candidate.incidents.map((incident) => [
            incident.severity,
            incident.rootService ?? '',
            clipText(incident.services.join(','), 40),
            incident.signals,
            incident.mergedInto ? 'yes' : '',
            clipText(incident.title, 50),
          ]),
        );
      });
    });

  rules
    .command('show')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const rule = await store.rules.get(name);
        if (!rule) throw new OpxError('not_found', `no rule ${name}; \`opx rules list\` shows them`);
        printJson(rule);
      });
    });
  rules
    .command('create')
    .requiredOption('--file <file>', 'rule definition in YAML or JSON')
    .action(async (options: { file: string }, command: Command) => {
      const input = validate(ruleInputSchema, readStructured(options.file), options.file);
      await withRuntime(command, async (runtime) => {
        const rule = await runtime.writes.run((scope) => scope.rules.create(input));
        if (globalOptions(command).json) printJson(rule);
        else process.stdout.write(`created rule ${rule.name} (${rule.id}) version ${rule.version}\n`);
      });
    });
  rules
    .command('update')
    .argument('<name>')
    .requiredOption('--file <file>', 'the full new definition in YAML or JSON')
    .action(async (name: string, options: { file: string }, command: Command) => {
      const input = validate(ruleInputSchema, readStructured(options.file), options.file);
      await withRuntime(command, async (runtime) => {
        const rule = await runtime.writes.run((scope) => scope.rules.update(name, input));
        if (globalOptions(command).json) printJson(rule);
        else process.stdout.write(`updated rule ${rule.name} to version ${rule.version}\n`);
      });
    });
  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    rules
      .command(verb)
      .argument('<name>')
      .action(async (name: string, _options: unknown, command: Command) => {
        await withRuntime(command, async (runtime) => {
          const rule = await runtime.writes.run(async (scope) => {
            const current = await scope.rules.get(name);
            if (!current) throw new OpxError('not_found', `no rule ${name}`);
            const {
              id: _id,
              version: _version,
              builtIn: _builtIn,
              createdAt: _created,
              updatedAt: _updated,
              ...input
            } = current;
            return scope.rules.update(name, { ...input, enabled });
          });
          process.stdout.write(
            `${rule.name} ${enabled ? 'enabled' : 'disabled'} (version ${rule.version})\n`,
          );
        });
      });
  }
  rules
    .command('delete')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const rule = await runtime.writes.run((scope) => scope.rules.remove(name));
        process.stdout.write(`deleted rule ${rule.name}\n`);
      });
    });

  const services = program.command('services').description('the service topology');
  services.command('list').action(async (_options: unknown, command: Command) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.services.list();
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['name', 'kind', 'tier', 'owner', 'customer-facing', 'depends on'],
        items.map((service) => [
          service.name,
          service.kind,
          service.tier,
          service.owner,
          service.customerFacing ? 'yes' : '',
          service.dependsOn.join(', '),
        ]),
      );
    });
  });
  services
    .command('import')
    .argument('<file>', 'Backstage catalog-info.yaml (multi-document)')
    .action(async (file: string, _options: unknown, command: Command) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new OpxError('invalid_request', `cannot read ${file}: ${(error as Error).message}`);
      }
      const parsed = parseBackstageCatalog(text);
      if (!parsed.ok)
        throw new OpxError(
          parsed.error.code,
          `${file}: ${parsed.error.message}`,
          parsed.error.path ? { path: parsed.error.path } : {},
        );
      await withRuntime(command, async (runtime) => {
        const result = await runtime.writes.run((scope) => scope.services.upsertMany(parsed.services));
        if (globalOptions(command).json) return printJson({ ...result, skipped: parsed.skipped });
        process.stdout.write(
          `imported ${parsed.services.length} services (${result.created.length} new, ${result.updated.length} updated)\n`,
        );
        for (const entity of parsed.skipped)
          process.stdout.write(`  skipped ${entity.kind} ${entity.name}: ${entity.reason}\n`);
      });
    });

  const changes = program.command('changes').description('deploys, config changes, flags, migrations');
  changes
    .command('list')
    .option('--service <name>')
    .option('--limit <n>', 'how many', '50')
    .action(async (options: { service?: string; limit: string }, command: Command) => {
      await withRuntime(command, async ({ store }) => {
        const items = await store.changes.list({
          ...(options.service ? { services: [options.service] } : {}),
          limit: Number(options.limit) || 50,
        });
        if (globalOptions(command).json) return printJson(items);
        printTable(
          ['id', 'kind', 'service', 'version', 'started', 'author', 'summary'],
          items.map((change) => [
            change.id,
            change.kind,
            change.service,
            [change.versionFrom, change.versionTo].filter(Boolean).join(' → '),
            shortTime(change.startedAt),
            change.author,
            clipText(change.summary, 50),
          ]),
        );
      });
    });
  changes
    .command('add')
    .requiredOption('--kind <kind>', CHANGE_KINDS.join('|'))
    .requiredOption('--service <name>')
    .requiredOption('--summary <text>')
    .option('--version-from <v>')
    .option('--version-to <v>')
    .option('--author <name>')
    .option('--environment <env>')
    .option('--started-at <iso>', 'default now')
    .action(async (options: Record<string, string | undefined>, command: Command) => {
      const input = validate(
        changeInputSchema,
        {
          kind: options.kind,
          service: options.service,
          summary: options.summary,
          ...(options.versionFrom ? { versionFrom: options.versionFrom } : {}),
          ...(options.versionTo ? { versionTo: options.versionTo } : {}),
          ...(options.author ? { author: options.author } : {}),
          ...(options.environment ? { environment: options.environment } : {}),
          startedAt: options.startedAt ?? new Date().toISOString(),
          source: 'cli',
        },
        'options',
      );
      await withRuntime(command, async (runtime) => {
        const { change } = await runtime.writes.run((scope) => runtime.ingest.recordChange(scope, input));
        if (globalOptions(command).json) printJson(change);
        else process.stdout.write(`recorded ${change.id}\n`);
      });
    });

  const tokens = program
    .command('tokens')
    .description('API tokens with scopes (ingest, read, respond, admin)');
  tokens
    .command('create')
    .requiredOption('--name <name>')
    .requiredOption('--scope <scopes...>', 'one or more of ingest, read, respond, admin')
    .action(async (options: { name: string; scope: string[] }, command: Command) => {
      const scopes = parseScopes(options.scope);
      await withRuntime(command, async (runtime) => {
        const { token, record } = await runtime.writes.run((scope) =>
          createToken(scope, options.name, scopes),
        );
        if (globalOptions(command).json) return printJson({ token, ...record });
        process.stdout.write(
          `created token ${record.name} (${record.id}) with scopes ${scopes.join(', ')}\n\n  ${token}\n\nStore it now: it is not shown again.\n`,
        );
      });
    });
  tokens.command('list').action(async (_options: unknown, command: Command) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.tokens.list();
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['id', 'name', 'scopes', 'created', 'revoked'],
        items.map((token) => [
          token.id,
          token.name,
          token.scopes.join(','),
          shortTime(token.createdAt),
          shortTime(token.revokedAt),
        ]),
      );
    });
  });
  tokens
    .command('revoke')
    .argument('<id-or-name>')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const count = await runtime.writes.run((scope) => scope.tokens.revoke(id));
        if (count === 0) throw new OpxError('not_found', `no active token ${id}`);
        process.stdout.write(`revoked ${count} token(s); running servers stop accepting it within 30 s\n`);
      });
    });

  const silences = program
    .command('silences')
    .description('silences and maintenance windows: matching signals are kept but open nothing');
  silences.command('list').action(async (_options: unknown, command: Command) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.silences.list();
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['id', 'kind', 'matchers', 'starts', 'ends', 'by', 'comment'],
        items.map((silence) => [
          silence.id,
          silence.kind,
          JSON.stringify(silence.matchers),
          shortTime(silence.startsAt),
          shortTime(silence.endsAt),
          silence.createdBy,
          silence.comment,
        ]),
      );
    });
  });
  silences
    .command('create')
    .requiredOption('--match <matcher...>', 'field=value, field!=value, field=~regex, field!~regex')
    .requiredOption('--ends-at <iso>', 'when it stops (ISO-8601)')
    .option('--starts-at <iso>', 'default now')
    .option('--maintenance', 'record it as a maintenance window')
    .option('--comment <text>', '', '')
    .action(
      async (
        options: {
          match: string[];
          endsAt: string;
          startsAt?: string;
          maintenance?: boolean;
          comment: string;
        },
        command: Command,
      ) => {
        const matchers = options.match.map((text) => {
          const found = /^([A-Za-z_][\w.]*)(=~|!~|!=|=)(.*)$/.exec(text);
          if (!found)
            throw new OpxError(
              'invalid_request',
              `cannot read matcher ${JSON.stringify(text)}: write field=value, field!=value, field=~regex or field!~regex`,
            );
          return { field: found[1], op: found[2], value: found[3] };
        });
        const input = validate(
          silenceInputSchema,
          {
            kind: options.maintenance ? 'maintenance' : 'silence',
            matchers,
            endsAt: options.endsAt,
            ...(options.startsAt ? { startsAt: options.startsAt } : {}),
            comment: options.comment,
          },
          'options',
        );
        const startsAt = options.startsAt ? parseTimestamp(options.startsAt) : Date.now();
        const endsAt = parseTimestamp(options.endsAt);
        if (startsAt === undefined || endsAt === undefined)
          throw new OpxError('invalid_request', '--starts-at and --ends-at take ISO-8601 times');
        if (endsAt <= startsAt) throw new OpxError('invalid_request', '--ends-at must be after --starts-at');
        await withRuntime(command, async (runtime) => {
          // Stored as the signals it matches are: redacted.
          const { matchers, comment } = runtime.ingest.redactor?.silence(input) ?? input;
          const silence = await runtime.writes.run((scope) =>
            scope.silences.create({
              kind: input.kind,
              matchers,
              startsAt,
              endsAt,
              comment,
              createdBy: cliPrincipal(),
            }),
          );
          if (globalOptions(command).json) printJson(silence);
          else
            process.stdout.write(
              `created ${silence.kind} ${silence.id} until ${shortTime(silence.endsAt)}\n`,
            );
        });
      },
    );
  silences
    .command('expire')
    .argument('<id>')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const expired = await runtime.writes.run((scope) => scope.silences.expire(id));
        if (!expired) throw new OpxError('not_found', `no active silence ${id}`);
        process.stdout.write(`expired ${id}\n`);
      });
    });

  const sns = program
    .command('sns')
    .description('SNS subscription confirmations received by the CloudWatch receiver');
  sns.command('list').action(async (_options: unknown, command: Command) => {
    await withRuntime(command, async ({ store }) => {
      const items = await store.sns.list();
      if (globalOptions(command).json) return printJson(items);
      printTable(
        ['topic', 'status', 'received', 'confirm by visiting'],
        items.map((item) => [item.topicArn, item.status, shortTime(item.receivedAt), item.subscribeUrl]),
      );
      if (items.some((item) => item.status === 'pending')) {
        process.stdout.write(
          '\nOPX never fetches SubscribeURL itself. Check the topic is yours, open the URL, then run `opx sns confirmed <topic-arn>`.\n',
        );
      }
    });
  });
  sns
    .command('confirmed')
    .argument('<topic-arn>')
    .description('record that you confirmed the subscription')
    .action(async (topicArn: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const updated = await runtime.writes.run((scope) => scope.sns.markConfirmed(topicArn));
        if (!updated) throw new OpxError('not_found', `no subscription request for ${topicArn}`);
        process.stdout.write(`marked ${topicArn} confirmed\n`);
      });
    });
}
