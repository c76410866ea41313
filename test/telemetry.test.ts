import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBackstageCatalog } from '../src/catalog/backstage.js';
import { INVESTIGATE_JOB } from '../src/domain/jobs.js';
import { runInvestigationJob } from '../src/investigate/jobs.js';
import {
  type FakeProviderServer,
  startFakeProviderServer,
  step,
} from '../src/llm/fake-server.test-support.js';
import { type StandInModel, startStandInModel } from '../src/llm/stand-in.js';
import { startTelemetry } from '../src/telemetry/sdk.js';
import { shutdownTelemetry, tracingRequested } from '../src/telemetry/tracing.js';
import { REPO_ROOT, type TestServer, testServer } from './support.js';

const BIN = path.join(REPO_ROOT, 'bin', 'opx.js');

const answer = (incidentId: string) =>
  JSON.stringify({
    summary: 'Errors began on the service itself.',
    confidence: 0.6,
    insufficientEvidence: false,
    claims: [
      { text: 'The incident opened with its first alert.', evidenceIds: [incidentId], confidence: 0.6 },
    ],
  });

describe('OpenTelemetry spans of an LLM-backed investigation', () => {
  let fake: FakeProviderServer;
  let server: TestServer;
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    await startTelemetry({ env: {}, processors: [new SimpleSpanProcessor(exporter)] });
    fake = await startFakeProviderServer();
    server = await testServer('sqlite', {
      autoInvestigate: false,
      llmProvider: 'openai-compatible',
      llmModel: 'gpt-4.1-mini',
      llmBaseUrl: `${fake.url}/v1`,
    });
    const catalog = parseBackstageCatalog(
      readFileSync(path.join(REPO_ROOT, 'examples', 'topology', 'catalog-info.yaml'), 'utf8'),
    );
    if (!catalog.ok) throw new Error(catalog.error.message);
    await server.runtime.store.services.upsertMany(catalog.services);
  });
  afterAll(async () => {
    await shutdownTelemetry();
    await server.cleanup();
    await fake.close();
  });

  it('nests chat spans with GenAI attributes under agent spans under the investigation', async () => {
    const opened = await server.request('POST', '/v1/signals', {
      body: { service: 'checkout-service', severity: 'critical', title: 'HighErrorRate on checkout-service' },
      token: server.tokens.ingest,
    });
    const incidentId = opened.json.signals[0].incidentIds[0] as string;
    // Five good answers; one agent's call fails with a 400, which is not retried.
    fake.script(
      ...Array.from({ length: 5 }, () =>
        step.reply(answer(incidentId), { input: 300, output: 60, cacheRead: 100 }),
      ),
      step.badRequest('context too long'),
    );
    exporter.reset();
    const started = await server.request('POST', `/v1/incidents/${incidentId}/investigations`, {
      token: server.tokens.respond,
    });
    expect(started.status, started.text).toBe(201);

    const spans = exporter.getFinishedSpans();
    const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]));
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');
    const [root, ...others] = spans.filter((span) => span.name === 'opx.investigate');
    expect(others).toEqual([]);
    expect(root!.attributes).toMatchObject({ 'opx.incident.id': incidentId });
    const agents = spans.filter((span) => span.name.startsWith('invoke_agent '));
    expect(agents).toHaveLength(6);
    for (const agent of agents) {
      expect(parentOf(agent)).toBe(root);
      expect(agent.attributes['gen_ai.operation.name']).toBe('invoke_agent');
    }
    const chats = spans.filter((span) => span.name === 'chat gpt-4.1-mini');
    expect(chats).toHaveLength(6);
    for (const chat of chats) {
      expect(chat.kind).toBe(SpanKind.CLIENT);
      expect(chat.spanContext().traceId).toBe(root!.spanContext().traceId);
      const agent = parentOf(chat)!;
      expect(agent.name).toBe(`invoke_agent ${chat.attributes['gen_ai.agent.name']}`);
      expect(chat.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1-mini',
        'gen_ai.request.temperature': 0,
        'opx.incident.id': incidentId,
        'opx.llm.attempt': 1,
      });
    }
    const ok = chats.filter((chat) => chat.attributes['opx.llm.outcome'] === 'ok');
    expect(ok).toHaveLength(5);
    for (const chat of ok) {
      expect(chat.attributes).toMatchObject({
        'gen_ai.response.model': 'gpt-4.1-mini',
        // The conventions count cached tokens inside input tokens.
        'gen_ai.usage.input_tokens': 400,
        'gen_ai.usage.cache_read.input_tokens': 100,
        'gen_ai.usage.output_tokens': 60,
        'gen_ai.response.finish_reasons': ['stop'],
      });
      expect(chat.attributes['opx.llm.cost_usd']).toBeCloseTo((300 * 0.4 + 100 * 0.1 + 60 * 1.6) / 1e6, 12);
      expect(chat.status.code).not.toBe(SpanStatusCode.ERROR);
    }
    const failed = chats.filter((chat) => chat.attributes['opx.llm.outcome'] === 'error');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed[0]!.attributes['error.type']).toBe('bad_request');
    expect(failed[0]!.attributes['gen_ai.usage.input_tokens']).toBeUndefined();
  });
});

describe('a trace that follows a signal from ingest to the model calls of its investigation', () => {
  const exporter = new InMemorySpanExporter();
  let model: StandInModel;
  let server: TestServer;
  beforeAll(async () => {
    await startTelemetry({ env: {}, processors: [new SimpleSpanProcessor(exporter)] });
    model = await startStandInModel();
    server = await testServer('sqlite', {
      autoInvestigate: true,
      investigateDelaySeconds: 0,
      llmProvider: 'openai-compatible',
      llmModel: 'gpt-4.1-mini',
      llmBaseUrl: model.url,
    });
  });
  afterAll(async () => {
    await shutdownTelemetry();
    await server.cleanup();
    await model.close();
  });

  it('continues the ingest trace in the queued investigation job', async () => {
    const opened = await server.request('POST', '/v1/signals', {
      body: { service: 'checkout-service', severity: 'critical', title: 'HighErrorRate on checkout-service' },
      token: server.tokens.ingest,
    });
    const incidentId = opened.json.signals[0].incidentIds[0] as string;
    const [job] = await server.runtime.store.jobs.list({ status: 'pending', kind: INVESTIGATE_JOB });
    expect(job!.payload).toMatchObject({
      incidentId,
      trace: { traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-/) },
    });
    // The job runs later, outside the request: here, from a fresh context.
    await context.with(ROOT_CONTEXT, () =>
      runInvestigationJob(server.runtime, job!, new AbortController().signal),
    );

    const spans = exporter.getFinishedSpans();
    const ingest = spans.find((span) => span.name === 'opx.ingest')!;
    expect(ingest.kind).toBe(SpanKind.SERVER);
    expect(ingest.events.map((event) => [event.name, event.attributes?.['opx.incident.id']])).toEqual([
      ['opx.incident.opened', incidentId],
    ]);
    const investigation = spans.find((span) => span.name === 'opx.investigate')!;
    expect(investigation.spanContext().traceId).toBe(ingest.spanContext().traceId);
    expect(investigation.parentSpanContext?.spanId).toBe(ingest.spanContext().spanId);
    const chats = spans.filter((span) => span.name === 'chat gpt-4.1-mini');
    expect(chats).toHaveLength(6);
    for (const chat of chats) expect(chat.spanContext().traceId).toBe(ingest.spanContext().traceId);
  });
});

/** A local OTLP/HTTP receiver: collects the JSON bodies posted to /v1/traces. */
async function startCollector() {
  const bodies: unknown[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces') bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; doubleValue?: number };
}
interface OtlpSpan {
  name: string;
  attributes: OtlpAttribute[];
}

describe('OTLP export configured by the standard OTEL_* variables', () => {
  let model: StandInModel;
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let dir: string;
  beforeAll(async () => {
    model = await startStandInModel();
    collector = await startCollector();
    dir = mkdtempSync(path.join(os.tmpdir(), 'opx-otel-'));
  });
  afterAll(async () => {
    await model.close();
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the investigation, agent and chat spans of `opx investigate` to an OTLP/HTTP collector', async () => {
    const env = {
      ...process.env,
      OPX_DATABASE_URL: '',
      OPX_ADMIN_TOKEN: '',
      OPX_AUTO_INVESTIGATE: 'false',
      OPX_LLM_PROVIDER: 'openai-compatible',
      OPX_LLM_BASE_URL: model.url,
      OPX_LLM_MODEL: 'claude-sonnet-4-5',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_SERVICE_NAME: 'opx-under-test',
    };
    const data = ['--data-dir', path.join(dir, 'data')];
    // Only serve, migrate and demo create a store.
    const migrate = spawnSync(process.execPath, [BIN, ...data, 'migrate'], {
      encoding: 'utf8',
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: '' },
    });
    expect(migrate.status, migrate.stderr).toBe(0);
    const ingest = spawnSync(
      process.execPath,
      [BIN, ...data, '--json', 'ingest', '--format', 'generic', '-'],
      {
        input: JSON.stringify({
          service: 'checkout',
          severity: 'critical',
          title: 'HighErrorRate on checkout',
        }),
        encoding: 'utf8',
        env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: '' },
      },
    );
    expect(ingest.status, ingest.stderr).toBe(0);
    const incidentId = JSON.parse(ingest.stdout).incidentsCreated[0] as string;
    // Asynchronous: the stand-in model and the collector answer from this process.
    const investigate = spawn(process.execPath, [BIN, ...data, 'investigate', incidentId], { env });
    let stderr = '';
    investigate.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const code = await new Promise<number | null>((resolve) => investigate.once('exit', resolve));
    expect(code, stderr).toBe(0);

    const batches = collector.bodies as {
      resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
    }[];
    expect(batches.length).toBeGreaterThan(0);
    const resources = batches.flatMap((batch) => batch.resourceSpans);
    expect(resources[0]!.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'opx-under-test' },
    });
    const spans = resources.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    expect(spans.filter((span) => span.name === 'opx.investigate')).toHaveLength(1);
    expect(spans.filter((span) => span.name.startsWith('invoke_agent '))).toHaveLength(6);
    const chats = spans.filter((span) => span.name === 'chat claude-sonnet-4-5');
    expect(chats).toHaveLength(6);
    const attribute = (span: OtlpSpan, key: string) =>
      span.attributes.find((item) => item.key === key)?.value;
    for (const chat of chats) {
      expect(attribute(chat, 'gen_ai.provider.name')).toEqual({ stringValue: 'openai' });
      expect(attribute(chat, 'gen_ai.request.model')).toEqual({ stringValue: 'claude-sonnet-4-5' });
      expect(Number(attribute(chat, 'gen_ai.usage.input_tokens')?.intValue)).toBeGreaterThan(100);
      expect(Number(attribute(chat, 'gen_ai.usage.output_tokens')?.intValue)).toBeGreaterThan(10);
      expect(attribute(chat, 'opx.llm.cost_usd')?.doubleValue).toBeGreaterThan(0);
    }
  });
});

describe('telemetry settings', () => {
  it('exports only when asked, and names what it cannot do', async () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(
      tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBe(false);
    expect(await startTelemetry({ env: { OTEL_TRACES_EXPORTER: 'none' } })).toBeUndefined();
    await expect(startTelemetry({ env: { OTEL_TRACES_EXPORTER: 'zipkin' } })).rejects.toThrow(
      /OTEL_TRACES_EXPORTER=zipkin: OPX exports traces with otlp, console or none/,
    );
  });

  it('finishes a command that made spans when the collector is unreachable', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'opx-otel-down-'));
    const env = { ...process.env, OPX_DATABASE_URL: '', OPX_AUTO_INVESTIGATE: 'false' };
    try {
      const ingest = spawnSync(
        process.execPath,
        [BIN, '--data-dir', dir, '--json', 'ingest', '--format', 'generic', '-'],
        {
          input: JSON.stringify({
            service: 'checkout',
            severity: 'critical',
            title: 'HighErrorRate on checkout',
          }),
          encoding: 'utf8',
          env,
        },
      );
      const incidentId = JSON.parse(ingest.stdout).incidentsCreated[0] as string;
      const run = spawnSync(process.execPath, [BIN, '--data-dir', dir, 'investigate', incidentId], {
        encoding: 'utf8',
        // The exporter retries for up to OTEL_EXPORTER_OTLP_TIMEOUT (10 s by default) before it gives up.
        env: {
          ...env,
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
          OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
        },
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain('investigation inv_');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
