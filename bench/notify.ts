import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import { parseFlags, readArgs, UsageError } from './support/cli.js';
import { REPO_ROOT, startOpx } from './support/opx.js';
import { sourceProvenance } from './support/provenance.js';
import { round, summarizeLatencies } from './support/stats.js';

const USAGE = `usage: npm run bench -- notify [flags]

How long an incident's first notification takes to reach a receiver, with OPX as shipped (opx serve
from dist/, default settings, the deterministic engine): a signed-webhook channel to a local HTTP
receiver and one route for every incident. Incidents open one after another, each from one critical
signal on a service of its own; the worker investigates each and the first message goes out once the
investigation has answered.

Reports, per incident, the time from the investigation's completion to the message at the receiver
(the target: p99 ≤ 2 s), and from the signal's POST to the message; and, as the baseline of the same
run, from the signal's POST to the investigation's completion.

  --incidents <n>  incidents opened (default 60)
  --gap <ms>       pause between signals (default 250)
  --opx-root <dir> the checkout whose build to run (default this one; npm run build first)
  --out <file>     results file (default bench/results/notify.json)
  --help           this text`;

const TARGET_P99_MS = 2000;

interface Arrival {
  incidentId: string;
  event: string;
  at: number;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags(
    argv,
    (args) => {
      const values = readArgs(args, {
        incidents: { type: 'string' },
        gap: { type: 'string' },
        'opx-root': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      });
      if (values.help) return 'help';
      const incidents = Number(values.incidents ?? 60);
      const gap = Number(values.gap ?? 250);
      if (!Number.isInteger(incidents) || incidents < 5 || incidents > 2000)
        throw new UsageError('--incidents must be 5-2000');
      if (!Number.isInteger(gap) || gap < 0 || gap > 60_000) throw new UsageError('--gap must be 0-60000');
      return {
        incidents,
        gap,
        opxRoot: path.resolve(values['opx-root'] ?? REPO_ROOT),
        out: path.resolve(values.out ?? path.join(REPO_ROOT, 'bench', 'results', 'notify.json')),
      };
    },
    USAGE,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { incidents, gap, opxRoot, out } = parsed.parameters;

  const arrivals: Arrival[] = [];
  const receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          event: string;
          incident: { id: string };
        };
        arrivals.push({ incidentId: body.incident.id, event: body.event, at });
      } catch {
        // A malformed body would be OPX's bug; the count below shows it as a missing message.
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const work = mkdtempSync(path.join(os.tmpdir(), 'opx-bench-notify-'));
  const dataDir = path.join(work, 'data');
  mkdirSync(dataDir);
  const adminToken = 'bench-notify-admin-token-0123456789';
  const opx = await startOpx({ root: opxRoot, dataDir, adminToken });
  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${opx.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  try {
    await api('POST', '/v1/notifications/channels', {
      name: 'bench-webhook',
      type: 'webhook',
      secret: { url: receiverUrl, hmacSecret: 'bench-notify-hmac-secret-0123456789' },
    });
    await api('POST', '/v1/notifications/routes', { name: 'everything', channels: ['bench-webhook'] });

    const posted = new Map<string, number>();
    for (let index = 0; index < incidents; index += 1) {
      const at = Date.now();
      const answer = (await api('POST', '/v1/signals', {
        source: 'generic',
        service: `notify-bench-${index}`,
        severity: 'critical',
        title: `notify-bench-${index} 5xx above 5%`,
        labels: { alertname: 'HighErrorRate' },
      })) as { incidents?: { created?: string[] } };
      for (const id of answer.incidents?.created ?? []) posted.set(id, at);
      process.stderr.write(`\r[notify] ${index + 1}/${incidents} signals`);
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    }
    process.stderr.write('\n');
    const deadline = Date.now() + 180_000;
    const opened = () =>
      new Set(arrivals.filter((item) => item.event === 'opened').map((item) => item.incidentId));
    while (opened().size < posted.size && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));

    const afterInvestigation: number[] = [];
    const afterSignal: number[] = [];
    const baseline: number[] = [];
    let withCause = 0;
    const firstArrival = new Map<string, number>();
    for (const item of arrivals)
      if (item.event === 'opened' && !firstArrival.has(item.incidentId))
        firstArrival.set(item.incidentId, item.at);
    for (const [incidentId, postedAt] of posted) {
      const arrived = firstArrival.get(incidentId);
      const list = (await api('GET', `/v1/incidents/${incidentId}/investigations`)) as {
        items: { status: string; finishedAt: string | null }[];
      };
      const finished = list.items
        .filter((item) => item.status === 'completed' && item.finishedAt)
        .map((item) => Date.parse(item.finishedAt!))
        .sort((a, b) => a - b)[0];
      if (finished !== undefined) baseline.push(finished - postedAt);
      if (arrived === undefined) continue;
      afterSignal.push(arrived - postedAt);
      if (finished !== undefined && finished <= arrived) {
        withCause += 1;
        afterInvestigation.push(arrived - finished);
      }
    }
    const summary = {
      afterInvestigation: summarizeLatencies(afterInvestigation),
      afterSignal: summarizeLatencies(afterSignal),
      baselineSignalToInvestigation: summarizeLatencies(baseline),
    };
    const delivered = firstArrival.size;
    const duplicates = arrivals.filter((item) => item.event === 'opened').length - delivered;
    const table = new Table({ head: ['interval', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'target'] });
    const rows: [keyof typeof summary, string, string][] = [
      ['baselineSignalToInvestigation', 'signal POST → investigation completed (baseline)', ''],
      ['afterInvestigation', 'investigation completed → message at receiver', `p99 ≤ ${TARGET_P99_MS}`],
      ['afterSignal', 'signal POST → message at receiver', ''],
    ];
    for (const [name, label, target] of rows) {
      const item = summary[name];
      table.push([label, item?.count ?? 0, item?.p50 ?? '-', item?.p90 ?? '-', item?.p99 ?? '-', target]);
    }
    process.stdout.write(
      `${incidents} incidents, ${delivered} first messages received (${posted.size - delivered} missing, ${duplicates} repeated), ${withCause} after the investigation's answer\n${table.toString()}\n`,
    );
    const ratio =
      summary.afterSignal && summary.baselineSignalToInvestigation
        ? round(summary.afterSignal.p50 / summary.baselineSignalToInvestigation.p50, 2)
        : null;
    const result = {
      bench: 'notify',
      date: new Date().toISOString(),
      opx: sourceProvenance(opxRoot),
      parameters: { incidents, gapMs: gap, channel: 'webhook (HMAC-signed)', settings: 'shipped defaults' },
      definitions: {
        afterInvestigation:
          "the webhook's arrival at the receiver minus the incident's first completed investigation's finishedAt",
        afterSignal: 'arrival minus the time the signal was POSTed',
        baselineSignalToInvestigation: 'finishedAt minus the time the signal was POSTed',
        ratio: 'afterSignal p50 over the baseline p50: what notifying adds to detecting and investigating',
      },
      target: { afterInvestigationP99Ms: TARGET_P99_MS },
      met: summary.afterInvestigation ? summary.afterInvestigation.p99 <= TARGET_P99_MS : false,
      incidentsOpened: posted.size,
      firstMessages: delivered,
      missing: posted.size - delivered,
      repeated: duplicates,
      firstMessageAfterAnswer: withCause,
      summary,
      ratio,
    };
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`results: ${path.relative(process.cwd(), out)}\n`);
    return delivered === posted.size ? 0 : 1;
  } finally {
    await opx.process.stop('SIGTERM', 5000);
    receiver.close();
    rmSync(work, { recursive: true, force: true });
  }
}
