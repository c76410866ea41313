/**
 * The demo's conversation with its own API, through the typed client (src/client): the alerts in,
 * the incident found and rated, the automatic investigation run and read back, the replay, and
 * everything the summary shows (stages 7 to 10).
 */

import type { OpxClient } from '../../../client/index.js';
import type { IncidentSeverity } from '../../../domain/common.js';
import { OpxError } from '../../../domain/errors.js';
import { INVESTIGATE_JOB } from '../../../domain/jobs.js';
import type { NormalizedServiceInput } from '../../../domain/service.js';
import { runInvestigationWorker } from '../../../investigate/jobs.js';
import type { Runtime } from '../../../runtime.js';

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

/** Stage 7: one alert each from Alertmanager, Prometheus and OPX's generic JSON, over HTTP. */
export async function sendAlerts(
  client: OpxClient,
  target: NormalizedServiceInput,
  suspect: string,
  now: number,
): Promise<void> {
  const startsAt = new Date(now - 9 * 60_000).toISOString();
  await client.ingestAlertmanager({
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
  await client.ingestPrometheus([
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
  await client.sendSignals({
    source: 'generic',
    service: target.name,
    environment: 'prod',
    severity: 'error',
    title: `Upstream timeouts from ${target.name} to ${suspect}`,
    description: `connection pool exhausted calling ${suspect}`,
    labels: { detector: 'log-patterns' },
    startsAt: new Date(now - 7 * 60_000).toISOString(),
  });
}

/** The open incident the alerts opened on the target service. */
export async function openedIncident(client: OpxClient, service: string): Promise<string> {
  const listed = await client.listIncidents({ status: 'OPEN', service });
  const incidentId = listed.items[0]?.id;
  if (!incidentId)
    throw new OpxError('internal', 'the demo alerts did not open an incident; check `opx rules list`');
  return incidentId;
}

export function rateSeverity(client: OpxClient, incidentId: string, severity: IncidentSeverity) {
  return client.setSeverity(incidentId, severity, 'demo: severity requested with --severity');
}

/** Stage 9: the worker runs the automatic investigation; then its findings and recommendations. */
export async function investigate(client: OpxClient, runtime: Runtime, incidentId: string) {
  await runJobsUntilIdle(runtime, incidentId);
  const { items } = await client.investigations(incidentId);
  const latest = items[0];
  if (latest?.status !== 'completed')
    throw new OpxError(
      'internal',
      `the investigation did not complete: ${latest ? `${latest.status} ${latest.error ?? ''}` : 'none ran'}`,
    );
  const { items: recommendations } = await client.recommendations(incidentId);
  const { items: timeline } = await client.incidentEvents(incidentId);
  const completed = timeline.find(
    (event) => event.type === 'investigation_completed' && event.data.investigationId === latest.id,
  );
  return {
    investigationId: latest.id,
    findings: latest.findings,
    recommendations,
    // The worker records how many LangGraph checkpoints the run wrote on its completion event.
    checkpoints: (completed?.data.checkpoints as number | undefined) ?? 0,
  };
}

/** What the summary shows once the investigation and its replay are done. */
export async function readOutcome(client: OpxClient, incidentId: string, service: string) {
  const evidence = await client.evidence(incidentId);
  const detail = await client.incident(incidentId);
  const events = await client.incidentEvents(incidentId);
  const chain = await client.verifyIncident(incidentId);
  const { items: traces } = await client.traces({ incidentId, limit: 500 });
  const knowledge = await client.searchKnowledge({
    alert: 'HighErrorRate',
    service,
    q: '5xx error rate',
    limit: 3,
    perDocument: 1,
  });
  return { evidence, detail, events, chain, traces, knowledge };
}
