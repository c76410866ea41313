import type { Command } from 'commander';
import type { IncidentListQuery, OpxClient, TransitionVerb } from '../../client/index.js';
import { INCIDENT_SEVERITIES } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import type { JoinReason } from '../../domain/incident.js';
import { INCIDENT_STATUSES, type IncidentStatus } from '../../domain/incident.js';
import { cliPrincipal, globalOptions, withRuntime, withStore } from '../context.js';
import { clipText, printFields, printJson, printTable, shortTime } from '../output.js';
import { remoteClient } from '../remote.js';

function listOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T[] | undefined {
  if (!value) return undefined;
  const items = value.split(',').map((item) => item.trim().toUpperCase());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item))
      throw new OpxError('invalid_request', `unknown ${name} ${item}: use ${allowed.join(', ')}`);
  }
  return items as T[];
}

/**
 * What a local run does on the store, loaded only then: a run against a server (--server) needs none
 * of it, and it brings the store and the evidence machinery.
 */
async function local() {
  const [service, merge, pipeline, bundle] = await Promise.all([
    import('../../incidents/service.js'),
    import('../../incidents/merge.js'),
    import('../../ingest/pipeline.js'),
    import('../../investigate/bundle.js'),
  ]);
  return {
    ...service,
    ...merge,
    scheduleReinvestigation: pipeline.scheduleReinvestigation,
    freezeEvidence: bundle.freezeEvidence,
  };
}

/** Up to `limit` incidents from the API, page after page (it answers at most 500 at a time). */
async function remoteIncidents(
  client: OpxClient,
  filter: { limit: number } & Omit<IncidentListQuery, 'limit' | 'cursor'>,
) {
  const items = [];
  for await (const incident of client.eachIncident({ ...filter, limit: Math.min(filter.limit, 500) })) {
    items.push(incident);
    if (items.length >= filter.limit) break;
  }
  return items;
}

export function registerIncidents(program: Command): void {
  const incidents = program.command('incidents').description('list, inspect and respond to incidents');

  incidents
    .command('list')
    .description('incidents, newest first')
    .option('--status <list>', `comma-separated: ${INCIDENT_STATUSES.join(',')}`)
    .option('--severity <list>', `comma-separated: ${INCIDENT_SEVERITIES.join(',')}`)
    .option('--service <name>', 'only incidents touching this service')
    .option('--limit <n>', 'how many', '50')
    .action(
      async (
        options: { status?: string; severity?: string; service?: string; limit: string },
        command: Command,
      ) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
          throw new OpxError('invalid_request', '--limit must be 1-1000');
        const status = listOf(options.status, INCIDENT_STATUSES, 'status');
        const severity = listOf(options.severity, INCIDENT_SEVERITIES, 'severity');
        const filter = {
          limit,
          ...(status ? { status } : {}),
          ...(severity ? { severity } : {}),
          ...(options.service ? { service: options.service } : {}),
        };
        const client = remoteClient(command);
        const items = client
          ? await remoteIncidents(client, filter)
          : await withStore(command, (store) => store.incidents.list(filter));
        if (globalOptions(command).json) return printJson(items);
        printTable(
          ['id', 'sev', 'status', 'services', 'signals', 'detected', 'title'],
          items.map((incident) => [
            incident.id,
            incident.severity,
            incident.status,
            incident.services.join(','),
            incident.signalCount,
            shortTime(incident.detectedAt),
            clipText(incident.title, 60),
          ]),
        );
      },
    );

  incidents
    .command('show')
    .argument('<id>')
    .description('an incident with its signals')
    .action(async (id: string, _options: unknown, command: Command) => {
      const client = remoteClient(command);
      const { incident, signals } = client
        ? await client.incident(id)
        : await withStore(command, async (store) => {
            const { requireIncident } = await local();
            const incident = await requireIncident(store, id);
            const links = new Map(
              (await store.incidents.signalLinks(id)).map((link) => [link.signalId, link]),
            );
            const signals = (await store.signals.getMany([...links.keys()])).map((signal) => ({
              ...signal,
              joinedBy: links.get(signal.id)?.reason ?? null,
            }));
            return { incident, signals };
          });
      if (globalOptions(command).json) return printJson({ incident, signals });
      printFields([
        ['id', incident.id],
        ['title', incident.title],
        ['severity', incident.severity],
        ['status', incident.status],
        ['origin', incident.rootService],
        ['merged into', incident.mergedInto],
        ['services', incident.services.join(', ')],
        ['started', shortTime(incident.startedAt)],
        ['detected', shortTime(incident.detectedAt)],
        ['acknowledged', shortTime(incident.acknowledgedAt)],
        ['resolved', shortTime(incident.resolvedAt)],
        ['all signals resolved', shortTime(incident.signalsResolvedAt)],
        ['root cause', incident.rootCause],
        ['resolution', incident.resolution],
      ]);
      process.stdout.write('\n');
      printTable(
        ['signal', 'source', 'severity', 'status', 'service', 'starts', 'seen', 'title', 'joined by'],
        signals.map((signal) => [
          signal.id,
          signal.source,
          signal.severity,
          signal.status,
          signal.service,
          shortTime(signal.startsAt),
          signal.occurrences,
          clipText(signal.title, 40),
          describeJoin(signal.joinedBy),
        ]),
      );
    });

  incidents
    .command('events')
    .argument('<id>')
    .description("the incident's append-only event log")
    .action(async (id: string, _options: unknown, command: Command) => {
      const client = remoteClient(command);
      const events = client
        ? (await client.incidentEvents(id)).items
        : await withStore(command, async (store) => {
            await (await local()).requireIncident(store, id);
            return store.incidents.events(id);
          });
      if (globalOptions(command).json) return printJson(events);
      printTable(
        ['#', 'at', 'type', 'principal', 'data', 'hash'],
        events.map((event) => [
          event.seq,
          shortTime(event.at),
          event.type,
          event.principal,
          clipText(JSON.stringify(event.data), 60),
          event.hash.slice(0, 12),
        ]),
      );
    });

  incidents
    .command('verify')
    .argument('<id>')
    .description("check the incident's event hash chain")
    .action(async (id: string, _options: unknown, command: Command) => {
      const client = remoteClient(command);
      const result = client
        ? await client.verifyIncident(id)
        : await withStore(command, async (store) => (await local()).verifyChain(store, id));
      if (globalOptions(command).json) printJson(result);
      else if (result.valid) process.stdout.write(`chain intact: ${result.events} events verified\n`);
      else
        process.stdout.write(`CHAIN BROKEN at event #${result.brokenAt?.seq}: ${result.brokenAt?.reason}\n`);
      if (!result.valid) process.exitCode = 3;
    });

  const moves: { name: string; to: IncidentStatus; verb: TransitionVerb; description: string }[] = [
    { name: 'ack', to: 'ACKNOWLEDGED', verb: 'acknowledge', description: 'acknowledge: a human owns it' },
    {
      name: 'mitigate',
      to: 'MITIGATED',
      verb: 'mitigate',
      description: 'impact is stopped; the cause may remain',
    },
    { name: 'close', to: 'CLOSED', verb: 'close', description: 'close a resolved incident (final)' },
    { name: 'reopen', to: 'OPEN', verb: 'reopen', description: 're-open a resolved incident' },
  ];
  for (const move of moves) {
    incidents
      .command(move.name)
      .argument('<id>')
      .option('--reason <text>')
      .description(move.description)
      .action(async (id: string, options: { reason?: string }, command: Command) => {
        const client = remoteClient(command);
        const { incident } = client
          ? await client.transition(id, move.verb, options.reason ? { reason: options.reason } : {})
          : await withRuntime(command, async (runtime) => {
              const { transitionIncident } = await local();
              return runtime.writes.run((scope) =>
                transitionIncident(scope, id, move.to, {
                  principal: cliPrincipal(),
                  at: Date.now(),
                  reason: options.reason,
                }),
              );
            });
        if (globalOptions(command).json) printJson(incident);
        else process.stdout.write(`${incident.id} is now ${incident.status}\n`);
      });
  }

  incidents
    .command('resolve')
    .argument('<id>')
    .option('--root-cause <text>', 'the confirmed root cause')
    .option('--resolution <text>', 'what fixed it')
    .option('--reason <text>')
    .description('resolve, recording root cause and resolution for future investigations')
    .action(
      async (
        id: string,
        options: { rootCause?: string; resolution?: string; reason?: string },
        command: Command,
      ) => {
        const client = remoteClient(command);
        const { incident } = client
          ? await client.transition(id, 'resolve', {
              ...(options.rootCause ? { rootCause: options.rootCause } : {}),
              ...(options.resolution ? { resolution: options.resolution } : {}),
              ...(options.reason ? { reason: options.reason } : {}),
            })
          : await withRuntime(command, async (runtime) => {
              const { transitionIncident } = await local();
              return runtime.writes.run((scope) =>
                transitionIncident(scope, id, 'RESOLVED', {
                  principal: cliPrincipal(),
                  at: Date.now(),
                  ...options,
                }),
              );
            });
        if (globalOptions(command).json) printJson(incident);
        else process.stdout.write(`${incident.id} is now ${incident.status}\n`);
      },
    );

  incidents
    .command('severity')
    .argument('<id>')
    .argument('<severity>', INCIDENT_SEVERITIES.join('|'))
    .option('--reason <text>')
    .description('re-rate an incident')
    .action(async (id: string, severity: string, options: { reason?: string }, command: Command) => {
      const [level] = listOf(severity, INCIDENT_SEVERITIES, 'severity') ?? [];
      if (!level) throw new OpxError('invalid_request', `give a severity: ${INCIDENT_SEVERITIES.join(', ')}`);
      const client = remoteClient(command);
      const incident = client
        ? (await client.setSeverity(id, level, options.reason)).incident
        : await withRuntime(command, async (runtime) => {
            const { changeSeverity } = await local();
            return runtime.writes.run((scope) =>
              changeSeverity(scope, id, level, {
                principal: cliPrincipal(),
                at: Date.now(),
                reason: options.reason,
              }),
            );
          });
      if (globalOptions(command).json) printJson(incident);
      else process.stdout.write(`${incident.id} is now ${incident.severity}\n`);
    });

  incidents
    .command('merge')
    .argument('<id>', 'the incident that goes away')
    .requiredOption('--into <id>', 'the incident that keeps its signals')
    .option('--reason <text>')
    .description('merge one incident into another: its signals move, it closes with a pointer')
    .action(async (id: string, options: { into: string; reason?: string }, command: Command) => {
      const client = remoteClient(command);
      const result = client
        ? await client.merge(id, {
            into: options.into,
            ...(options.reason ? { reason: options.reason } : {}),
          })
        : await withRuntime(command, async (runtime) => {
            const { mergeIncidents, scheduleReinvestigation } = await local();
            return runtime.writes.run(async (scope) => {
              const merged = await mergeIncidents(scope, id, options.into, {
                principal: cliPrincipal(),
                reason: options.reason,
              });
              const { investigate } = runtime.ingest.settings;
              if (investigate)
                await scheduleReinvestigation(scope, [merged.incident.id], Date.now(), investigate);
              return merged;
            });
          });
      if (globalOptions(command).json) printJson(result);
      else
        process.stdout.write(
          `${result.merged.id} merged into ${result.incident.id} (${result.incident.signalCount} signals, ${result.incident.services.join(', ')})\n`,
        );
    });

  incidents
    .command('split')
    .argument('<id>', 'the incident to take signals from')
    .requiredOption('--signals <ids>', 'comma-separated signal ids that move to a new incident')
    .option('--title <text>')
    .option('--reason <text>')
    .description('split signals off an incident into a new one; they stay where you put them')
    .action(
      async (id: string, options: { signals: string; title?: string; reason?: string }, command: Command) => {
        const signalIds = options.signals
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean);
        if (signalIds.length === 0)
          throw new OpxError('invalid_request', '--signals needs at least one signal id', {
            path: 'signals',
          });
        const client = remoteClient(command);
        const result = client
          ? await client.split(id, {
              signalIds,
              ...(options.title ? { title: options.title } : {}),
              ...(options.reason ? { reason: options.reason } : {}),
            })
          : await withRuntime(command, async (runtime) => {
              const { splitIncident, scheduleReinvestigation } = await local();
              return runtime.writes.run(async (scope) => {
                const split = await splitIncident(scope, id, signalIds, {
                  principal: cliPrincipal(),
                  reason: options.reason,
                  title: options.title,
                });
                const { investigate } = runtime.ingest.settings;
                if (investigate)
                  await scheduleReinvestigation(
                    scope,
                    [split.incident.id, split.split.id],
                    Date.now(),
                    investigate,
                  );
                return split;
              });
            });
        if (globalOptions(command).json) printJson(result);
        else
          process.stdout.write(
            `${signalIds.length} signal(s) split off ${result.incident.id} into ${result.split.id}: ${result.split.title}\n`,
          );
      },
    );

  incidents
    .command('note')
    .argument('<id>')
    .argument('<text...>')
    .description('add a note to the timeline')
    .action(async (id: string, words: string[], _options: unknown, command: Command) => {
      const text = words.join(' ').trim();
      if (!text) throw new OpxError('invalid_request', 'the note is empty');
      const client = remoteClient(command);
      const event = client
        ? (await client.addNote(id, text)).event
        : await withRuntime(command, async (runtime) => {
            const { addNote } = await local();
            return runtime.writes.run((scope) => addNote(scope, id, text, cliPrincipal()));
          });
      if (globalOptions(command).json) printJson(event);
      else process.stdout.write(`note #${event.seq} added to ${id}\n`);
    });

  incidents
    .command('evidence')
    .argument('<id>')
    .description('freeze an evidence bundle now and show what it holds')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withRuntime(command, async (runtime) => {
        const options = await runtime.evidenceOptions(cliPrincipal());
        const { freezeEvidence } = await local();
        const { bundle, graph } = await runtime.writes.run((scope) => freezeEvidence(scope, id, options));
        if (globalOptions(command).json) return printJson({ bundle, graph });
        printFields([
          ['bundle', bundle.id],
          ['as of', shortTime(bundle.asOf)],
          ['hash', bundle.hash],
          ['signals', bundle.signals.length],
          [
            'changes',
            bundle.changes.map((change) => `${change.id} ${change.kind} ${change.service}`).join('; ') ||
              'none',
          ],
          [
            'neighbourhood',
            bundle.neighbourhood
              .map((entry) => `${entry.service}(${entry.relation},${entry.distance})`)
              .join(' '),
          ],
          ['graph', `${graph.nodes.length} nodes, ${graph.edges.length} edges`],
        ]);
      });
    });
}

/**
 * A join's path with its arrows: → along calls, ← against them. A sibling path climbs to the shared
 * dependency and comes back down: `exchange → aad-keys ← teams (aad-keys changed: chg_1)`.
 */
export function graphPathText(reason: {
  relation: string;
  path: readonly string[];
  shared?: string;
  change?: string;
}): string {
  if (reason.relation !== 'sibling' || reason.shared === undefined) {
    return reason.path.join(reason.relation === 'caller' ? ' → ' : ' ← ');
  }
  const turn = reason.path.indexOf(reason.shared);
  const up = reason.path.slice(0, turn + 1).join(' → ');
  const down = reason.path.slice(turn).join(' ← ');
  return `${up}${down.slice(reason.shared.length)} (${reason.shared} changed: ${reason.change})`;
}

/** One line on why a signal is on its incident. */
export function describeJoin(reason: JoinReason | null): string {
  if (!reason) return '';
  switch (reason.kind) {
    case 'rule':
      return reason.rule;
    case 'topology':
      return `${reason.rule}: ${graphPathText(reason)}`;
    case 'merge':
      return `merged from ${reason.from}`;
    case 'split':
      return `split from ${reason.from}: ${reason.reason}`;
    case 'manual':
      return `${reason.action} by ${reason.principal}`;
  }
}
