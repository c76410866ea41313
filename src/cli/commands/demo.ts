import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildServer } from '../../api/server.js';
import { createToken } from '../../auth/tokens.js';
import { parseBackstageCatalog } from '../../catalog/backstage.js';
import { INCIDENT_SEVERITIES, type IncidentSeverity } from '../../domain/common.js';
import { OpxError } from '../../domain/errors.js';
import { AGENTS, type Finding } from '../../domain/finding.js';
import { INVESTIGATE_JOB } from '../../domain/jobs.js';
import { importHistory, readHistoryDirectory } from '../../incidents/history.js';
import { runInvestigationWorker } from '../../investigate/jobs.js';
import { importKnowledge, readKnowledgeDirectory } from '../../knowledge/import.js';
import { openRuntime, type Runtime } from '../../runtime.js';
import type { TrustScore } from '../../trust/trust.js';
import { configFrom, globalOptions } from '../context.js';
import { clipText, printFields, printJson, printTable, shortTime } from '../output.js';
import { printTrust } from './investigate.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

interface DemoRecommendation {
  id: string;
  rank: number;
  kind: string;
  risk: string;
  confidence: number;
  trust: number | null;
  title: string;
}

interface DemoTrace {
  agent: string | null;
  provider: string;
  model: string;
  attempt: number;
  status: string;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  costUsd: number | null;
}

interface UsageTotals {
  calls: number;
  inputTokens: number | null;
  cacheReadTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
}

/** A sum where one unknown part makes the whole unknown. */
function addKnown(total: number | null, part: number | null): number | null {
  return total === null || part === null ? null : total + part;
}

function totals(traces: readonly DemoTrace[]): UsageTotals {
  // Cache counts a provider does not report count as none; input, output and cost stay unknown.
  return traces.reduce<UsageTotals>(
    (sum, trace) => ({
      calls: sum.calls + 1,
      inputTokens: addKnown(sum.inputTokens, trace.inputTokens),
      cacheReadTokens: addKnown(sum.cacheReadTokens, trace.cacheReadTokens ?? 0),
      outputTokens: addKnown(sum.outputTokens, trace.outputTokens),
      costUsd: addKnown(sum.costUsd, trace.costUsd),
    }),
    { calls: 0, inputTokens: 0, cacheReadTokens: 0, outputTokens: 0, costUsd: 0 },
  );
}

/** The investigation's model calls, per agent and in total; blocked calls (attempt 0) cost nothing. */
function modelUsage(traces: readonly DemoTrace[]) {
  const calls = traces.filter((trace) => trace.attempt > 0);
  const order = (agent: string) => (AGENTS as readonly string[]).indexOf(agent);
  const names = [...new Set(calls.map((trace) => trace.agent ?? '?'))].sort((a, b) => order(a) - order(b));
  const agents = names.map((agent) => {
    const own = calls.filter((trace) => (trace.agent ?? '?') === agent);
    const last = own[own.length - 1]!;
    return {
      agent,
      model: `${last.provider}/${last.model}`,
      outcome: last.status === 'ok' ? (own.length > 1 ? `ok after ${own.length} tries` : 'ok') : last.status,
      ...totals(own),
    };
  });
  return { ...totals(calls), agents };
}

const tokens = (count: number | null) => (count === null ? '?' : count.toLocaleString('en-US'));
const dollars = (usd: number | null) => (usd === null ? '?' : `$${usd.toFixed(6)}`);

/** Runs the investigation worker in this process until the incident's job has settled. */
async function runJobsUntilIdle(runtime: Runtime, incidentId: string): Promise<void> {
  const queued = await runtime.store.jobs.list({ status: 'pending', kind: INVESTIGATE_JOB });
  if (!queued.some((job) => job.payload.incidentId === incidentId))
    throw new OpxError('internal', `no investigation job was queued for ${incidentId}`);
  const stop = new AbortController();
  const failures: string[] = [];
  await runInvestigationWorker(runtime, {
    signal: stop.signal,
    log: () => {},
    onEvent: (event) => {
      if (event.job.payload.incidentId !== incidentId) return;
      if (event.type === 'failed') failures.push(event.error);
      // A failed attempt would wait out its backoff; the demo reports it instead.
      if (event.type === 'completed' || event.type === 'failed') stop.abort();
    },
  });
  if (failures.length > 0)
    throw new OpxError('internal', `the investigation job failed: ${failures.join('; ')}`);
}

interface DemoOptions {
  service: string;
  severity: string;
  clean?: boolean;
}

/** Progress on stderr when --json owns stdout. */
function stageReporter(total: number, quiet: boolean) {
  let index = 0;
  return async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    index += 1;
    const started = performance.now();
    const out = quiet ? process.stderr : process.stdout;
    out.write(`[${index}/${total}] ${label}… `);
    const result = await work();
    out.write(`done (${Math.round(performance.now() - started)} ms)\n`);
    return result;
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('end-to-end demo on a fresh SQLite store: topology, changes, alerts over HTTP, an incident')
    .option('--service <name>', 'service the alerts fire on', 'api-gateway')
    .option('--severity <sev>', `incident severity to demonstrate (${INCIDENT_SEVERITIES.join('|')})`, 'SEV2')
    .option('--clean', 'remove the demo data and stop')
    .action(async (options: DemoOptions, command: Command) => {
      const json = globalOptions(command).json ?? false;
      const base = configFrom(command);
      if (base.databaseUrl)
        throw new OpxError(
          'invalid_request',
          'the demo runs on its own SQLite store; drop --database-url / OPX_DATABASE_URL',
        );
      const dataDir = path.resolve(base.dataDir, 'demo');
      if (options.clean) {
        rmSync(dataDir, { recursive: true, force: true });
        process.stdout.write(`removed demo data in ${dataDir}\n`);
        return;
      }
      const severity = options.severity.toUpperCase() as IncidentSeverity;
      if (!INCIDENT_SEVERITIES.includes(severity))
        throw new OpxError('invalid_request', `--severity must be one of ${INCIDENT_SEVERITIES.join(', ')}`);

      const catalog = parseBackstageCatalog(
        readFileSync(path.join(EXAMPLES, 'topology', 'catalog-info.yaml'), 'utf8'),
      );
      if (!catalog.ok)
        throw new OpxError('internal', `examples/topology/catalog-info.yaml: ${catalog.error.message}`);
      const target = catalog.services.find((service) => service.name === options.service);
      if (!target) {
        throw new OpxError(
          'invalid_request',
          `--service ${options.service} is not in the demo topology; pick one of ${catalog.services.map((service) => service.name).join(', ')}`,
        );
      }

      if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
      const stage = stageReporter(10, json);
      const runtime = await stage(
        `Creating a fresh store in ${path.relative(process.cwd(), dataDir) || dataDir}`,
        () =>
          openRuntime({
            ...base,
            dataDir,
            databaseUrl: undefined,
            logLevel: 'silent',
            // The worker starts only after the alerts are in, so the job may be due at once.
            autoInvestigate: true,
            investigateDelaySeconds: 0,
          }),
      );
      try {
        const { store } = runtime;
        await stage(`Importing the topology (${catalog.services.length} services)`, () =>
          store.services.upsertMany(catalog.services),
        );
        const knowledge = readKnowledgeDirectory(path.join(EXAMPLES, 'kb'));
        await stage(`Importing ${knowledge.prepared.length} runbooks and postmortems`, () =>
          runtime.ingest.writer.run((scope) => importKnowledge(scope, knowledge.prepared)),
        );
        const history = readHistoryDirectory(path.join(EXAMPLES, 'history'));
        await stage(
          `Loading ${history.incidents.length} past incidents and ${history.changes.length} changes`,
          () => runtime.ingest.writer.run((scope) => importHistory(scope, history, 'demo')),
        );
        const now = Date.now();
        const suspect = target.dependsOn[0] ?? target.name;
        await stage('Recording recent changes', async () => {
          await store.changes.insert({
            kind: 'deploy',
            service: suspect,
            environment: 'prod',
            versionFrom: 'v2.14.0',
            versionTo: 'v2.15.0',
            author: 'ci-bot',
            summary: `Deploy ${suspect} v2.15.0: connection pool settings reworked`,
            startedAt: now - 14 * 60_000,
            finishedAt: now - 12 * 60_000,
            links: [],
            source: 'demo',
          });
          await store.changes.insert({
            kind: 'config',
            service: 'notification-service',
            environment: 'prod',
            author: 'alice',
            summary: 'Raise email batch size',
            startedAt: now - 3 * 3600_000,
            links: [],
            source: 'demo',
          });
        });

        const { token } = await createToken(store, 'demo', ['ingest', 'read', 'respond']);
        const app = await buildServer(runtime);
        const address = await stage('Starting the API on a free local port', () =>
          app.listen({ port: 0, host: '127.0.0.1' }),
        );
        const call = async (method: string, route: string, body?: unknown) => {
          const response = await fetch(`${address}${route}`, {
            method,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await response.text();
          if (!response.ok)
            throw new OpxError('internal', `${method} ${route} answered ${response.status}: ${text}`);
          return text ? (JSON.parse(text) as Record<string, unknown>) : {};
        };

        try {
          await stage('Sending 3 alerts over HTTP (Alertmanager, Prometheus, generic JSON)', async () => {
            const startsAt = new Date(now - 9 * 60_000).toISOString();
            await call('POST', '/v1/ingest/alertmanager', {
              version: '4',
              status: 'firing',
              receiver: 'opx',
              groupKey: `{}:{service="${target.name}"}`,
              truncatedAlerts: 0,
              groupLabels: { alertname: 'HighErrorRate' },
              commonLabels: {
                alertname: 'HighErrorRate',
                service: target.name,
                env: 'prod',
                severity: 'critical',
              },
              commonAnnotations: {},
              externalURL: 'http://alertmanager.demo:9093',
              alerts: [
                {
                  status: 'firing',
                  labels: {
                    alertname: 'HighErrorRate',
                    service: target.name,
                    env: 'prod',
                    severity: 'critical',
                  },
                  annotations: {
                    summary: `5xx ratio above 5% on ${target.name}`,
                    description: 'error ratio 0.083 over the last 5m (threshold 0.05)',
                  },
                  startsAt,
                  endsAt: '0001-01-01T00:00:00Z',
                  generatorURL: 'http://prometheus.demo:9090/graph',
                  fingerprint: '',
                },
              ],
            });
            await call('POST', '/api/v2/alerts', [
              {
                labels: {
                  alertname: 'HighLatencyP99',
                  service: target.name,
                  env: 'prod',
                  severity: 'warning',
                },
                annotations: { summary: `p99 latency 2.4s on ${target.name} (SLO 800ms)` },
                startsAt: new Date(now - 8 * 60_000).toISOString(),
                generatorURL: 'http://prometheus.demo:9090/graph',
              },
            ]);
            await call('POST', '/v1/signals', {
              source: 'generic',
              service: target.name,
              environment: 'prod',
              severity: 'error',
              title: `Upstream timeouts from ${target.name} to ${suspect}`,
              description: `connection pool exhausted calling ${suspect}`,
              labels: { detector: 'log-patterns' },
              startsAt: new Date(now - 7 * 60_000).toISOString(),
            });
          });

          const listed = (await call(
            'GET',
            `/v1/incidents?status=OPEN&service=${encodeURIComponent(target.name)}`,
          )) as {
            items: { id: string }[];
          };
          const incidentId = listed.items[0]?.id;
          if (!incidentId)
            throw new OpxError(
              'internal',
              'the demo alerts did not open an incident; check `opx rules list`',
            );
          await stage(`Incident ${incidentId} opened; rating it ${severity}`, async () => {
            await call('POST', `/v1/incidents/${incidentId}/severity`, {
              severity,
              reason: 'demo: severity requested with --severity',
            });
          });
          const investigation = await stage(
            'Investigating: the worker claims the automatic job; six agents run on LangGraph, checkpointed',
            async () => {
              await runJobsUntilIdle(runtime, incidentId);
              const { items } = (await call('GET', `/v1/incidents/${incidentId}/investigations`)) as {
                items: { id: string; status: string; error: string | null; findings: Finding[] }[];
              };
              const latest = items[0];
              if (latest?.status !== 'completed')
                throw new OpxError(
                  'internal',
                  `the investigation did not complete: ${latest ? `${latest.status} ${latest.error ?? ''}` : 'none ran'}`,
                );
              const { items: recommendations } = (await call(
                'GET',
                `/v1/incidents/${incidentId}/recommendations`,
              )) as { items: DemoRecommendation[] };
              const { items: timeline } = (await call('GET', `/v1/incidents/${incidentId}/events`)) as {
                items: { type: string; data: { investigationId?: string; checkpoints?: number } }[];
              };
              const completed = timeline.find(
                (event) =>
                  event.type === 'investigation_completed' && event.data.investigationId === latest.id,
              );
              return {
                investigationId: latest.id,
                findings: latest.findings,
                recommendations,
                checkpoints: completed?.data.checkpoints ?? 0,
              };
            },
          );
          const replay = (await stage('Replaying the investigation on its frozen evidence', () =>
            call('POST', `/v1/incidents/${incidentId}/replay`, {}),
          )) as { identical: boolean; replayHash: string; differences: unknown[] };
          const evidence = (await call('GET', `/v1/incidents/${incidentId}/evidence`)) as {
            bundle: {
              id: string;
              hash: string;
              signals: unknown[];
              changes: { id: string; kind: string; service: string; summary: string }[];
              neighbourhood: { service: string; relation: string; distance: number }[];
              history: unknown[];
              knowledge: unknown[];
            };
            graph: { nodes: unknown[]; edges: unknown[] };
          };
          const detail = (await call('GET', `/v1/incidents/${incidentId}`)) as {
            incident: Record<string, unknown>;
            signals: Record<string, unknown>[];
          };
          const events = (await call('GET', `/v1/incidents/${incidentId}/events`)) as {
            items: Record<string, unknown>[];
          };
          const chain = await call('GET', `/v1/incidents/${incidentId}/verify`);
          const { items: traces } = (await call(
            'GET',
            `/v1/traces?incidentId=${encodeURIComponent(incidentId)}&limit=500`,
          )) as { items: DemoTrace[] };
          const llm = modelUsage(traces);
          const knowledgeHits = (await call(
            'GET',
            `/v1/kb/search?alert=HighErrorRate&service=${encodeURIComponent(target.name)}&q=${encodeURIComponent('5xx error rate')}&limit=3&perDocument=1`,
          )) as { items: { path: string; title: string; kind: string; heading: string; score: number }[] };
          const dataFlag = `--data-dir ${path.relative(process.cwd(), dataDir) || dataDir}`;
          const inspect = [
            `npx opx ${dataFlag} incidents list`,
            `npx opx ${dataFlag} incidents show ${incidentId}`,
            `npx opx ${dataFlag} incidents events ${incidentId}`,
            `npx opx ${dataFlag} incidents verify ${incidentId}`,
            `npx opx ${dataFlag} investigate show ${incidentId} --checkpoints`,
            `npx opx ${dataFlag} replay ${incidentId}`,
            `npx opx ${dataFlag} jobs list`,
            `npx opx ${dataFlag} approve ${investigation.recommendations[0]?.id ?? '<recommendation>'} --reason "matches the deploy"`,
            `npx opx ${dataFlag} rules list`,
            `npx opx ${dataFlag} services list`,
            `npx opx ${dataFlag} changes list`,
            `npx opx ${dataFlag} kb search --service ${target.name} --alert HighErrorRate 5xx`,
            `sqlite3 ${path.join(dataDir, 'opx.db')} 'select id, source, severity, status, service, title from signals'`,
          ];
          // The same store served on the default port: the console shows this incident with the demo's token.
          const consoleView = {
            command: `npx opx ${dataFlag} serve`,
            url: `http://127.0.0.1:8080/incidents/${incidentId}`,
            token,
          };
          const strategy = investigation.findings.find((finding) => finding.agent === 'response-strategy')!;
          const result = {
            incidentId,
            investigationId: investigation.investigationId,
            findings: investigation.findings,
            recommendations: investigation.recommendations,
            probableRootCause: strategy.data.probableRootCause ?? null,
            trust: strategy.data.trust ?? null,
            channelSummary: strategy.data.channelSummary,
            checkpoints: investigation.checkpoints,
            replay: { identical: replay.identical, outputHash: replay.replayHash },
            llm,
            incident: detail.incident,
            signals: detail.signals,
            events: events.items,
            chain,
            console: consoleView,
            knowledge: knowledgeHits.items,
            evidence: {
              bundleId: evidence.bundle.id,
              hash: evidence.bundle.hash,
              signals: evidence.bundle.signals.length,
              changes: evidence.bundle.changes,
              neighbourhood: evidence.bundle.neighbourhood,
              pastIncidents: evidence.bundle.history.length,
              knowledgeSections: evidence.bundle.knowledge.length,
              graph: { nodes: evidence.graph.nodes.length, edges: evidence.graph.edges.length },
            },
            dataDir,
            inspect,
          };
          if (json) {
            printJson(result);
            return;
          }
          const incident = detail.incident;
          process.stdout.write('\n== Incident ==\n');
          printFields([
            ['id', incident.id],
            ['title', incident.title],
            ['severity', incident.severity],
            ['status', incident.status],
            ['origin', String(incident.rootService ?? '')],
            ['services', (incident.services as string[]).join(', ')],
            ['started', incident.startedAt],
            ['detected', incident.detectedAt],
          ]);
          process.stdout.write('\n== Signals ==\n');
          printTable(
            ['source', 'severity', 'status', 'service', 'title'],
            detail.signals.map((signal) => [
              String(signal.source),
              String(signal.severity),
              String(signal.status),
              String(signal.service),
              clipText(String(signal.title), 60),
            ]),
          );
          process.stdout.write('\n== Timeline (hash-chained) ==\n');
          printTable(
            ['#', 'at', 'event', 'by'],
            events.items.map((event) => [
              Number(event.seq),
              shortTime(Date.parse(String(event.at))),
              String(event.type),
              String(event.principal),
            ]),
          );
          process.stdout.write(
            `chain: ${chain.valid ? `intact, ${chain.events} events verified` : `BROKEN ${JSON.stringify(chain.brokenAt)}`}\n`,
          );
          const models = [
            ...new Set(
              investigation.findings
                .filter((finding) => finding.engine.provider !== 'deterministic')
                .map((finding) => `${finding.engine.provider}/${finding.engine.model}`),
            ),
          ];
          process.stdout.write(
            `\n== Investigation (${models.length > 0 ? `language model ${models.join(', ')}, behind the guardrails` : 'deterministic engine'}) ==\n`,
          );
          for (const finding of investigation.findings) {
            const by = finding.engine.provider === 'deterministic' ? '' : ` · ${finding.engine.model}`;
            process.stdout.write(
              `[${finding.agent}${by}${finding.degraded ? ' · degraded to the engine' : ''}] ${finding.insufficientEvidence ? '(insufficient evidence) ' : ''}${finding.summary}\n`,
            );
            const claim = finding.claims[0];
            if (claim)
              process.stdout.write(
                `    ${clipText(claim.text, 160)}  [${claim.evidenceIds.slice(0, 3).join(', ')}]\n`,
              );
          }
          if (llm.calls > 0) {
            process.stdout.write('\n== Language model calls (prompts redacted; opx traces list) ==\n');
            printTable(
              ['agent', 'model', 'calls', 'input', 'cached', 'output', 'cost (USD)', 'outcome'],
              [
                ...llm.agents.map((agent) => [
                  agent.agent,
                  agent.model,
                  agent.calls,
                  tokens(agent.inputTokens),
                  tokens(agent.cacheReadTokens),
                  tokens(agent.outputTokens),
                  dollars(agent.costUsd),
                  agent.outcome,
                ]),
                [
                  'total',
                  '',
                  llm.calls,
                  tokens(llm.inputTokens),
                  tokens(llm.cacheReadTokens),
                  tokens(llm.outputTokens),
                  dollars(llm.costUsd),
                  '',
                ],
              ],
            );
            if (llm.costUsd === null)
              process.stdout.write(
                'cost unknown: no price for this model (add one with OPX_LLM_PRICES) or the provider sent no token counts\n',
              );
          }
          process.stdout.write('\n== Trust (how far to rely on this; docs/trust.md) ==\n');
          printTrust(strategy.data.trust as TrustScore | undefined);
          const ungrounded = investigation.findings.flatMap(
            (finding) => finding.grounding?.unsupported ?? [],
          );
          process.stdout.write(
            ungrounded.length === 0
              ? 'every statement of every finding matches the evidence it cites\n'
              : `${ungrounded.length} statements not supported by their evidence (marked UNSUPPORTED in \`opx investigate show\`)\n`,
          );
          process.stdout.write('\n== Recommendations (approve or reject; nothing is executed) ==\n');
          printTable(
            ['#', 'id', 'kind', 'risk', 'conf', 'trust', 'recommendation'],
            investigation.recommendations.map((item) => [
              item.rank,
              item.id,
              item.kind,
              item.risk,
              item.confidence.toFixed(2),
              item.trust === null ? '–' : item.trust.toFixed(2),
              clipText(item.title, 60),
            ]),
          );
          process.stdout.write(
            `${investigation.checkpoints} LangGraph checkpoints on thread ${incidentId}; ` +
              `replay on the frozen bundle: ${replay.identical ? 'identical' : `DIFFERENT (${replay.differences.length} differences)`}\n`,
          );
          process.stdout.write(`\nFor the incident channel: ${strategy.data.channelSummary}\n`);
          process.stdout.write('\n== Evidence bundle ==\n');
          printFields([
            ['bundle', evidence.bundle.id],
            ['content hash', evidence.bundle.hash],
            ['signals', evidence.bundle.signals.length],
            [
              'changes in look-back',
              evidence.bundle.changes
                .map((change) => `${change.kind} ${change.service}: ${change.summary}`)
                .join('; ') || 'none',
            ],
            [
              'neighbourhood',
              evidence.bundle.neighbourhood.map((entry) => `${entry.service} (${entry.relation})`).join(', '),
            ],
            ['past incidents nearby', evidence.bundle.history.length],
            ['runbook sections', evidence.bundle.knowledge.length],
            ['graph', `${evidence.graph.nodes.length} nodes, ${evidence.graph.edges.length} edges`],
          ]);
          process.stdout.write('\n== Runbooks and postmortems that match (BM25) ==\n');
          printTable(
            ['score', 'kind', 'document', 'best section'],
            knowledgeHits.items.map((hit) => [
              hit.score.toFixed(1),
              hit.kind,
              hit.path,
              clipText(hit.heading, 60),
            ]),
          );
          process.stdout.write('\n== Look around ==\n');
          for (const line of inspect) process.stdout.write(`  ${line}\n`);
          process.stdout.write('\n== Open the web console ==\n');
          process.stdout.write(`  ${consoleView.command}\n`);
          process.stdout.write(`  then open ${consoleView.url} and paste the demo token ${token}\n`);
          process.stdout.write('  (scopes ingest, read, respond; docs/console.md shows each page)\n\n');
        } finally {
          await app.close();
        }
      } finally {
        await runtime.close();
      }
    });
}
