/**
 * OpenTelemetry tracing. OPX's code creates spans through the API on every run; they cost next to
 * nothing and go nowhere until an exporter is configured with the standard variables:
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT   an OTLP/HTTP collector
 *   OTEL_TRACES_EXPORTER      `otlp` (default once an endpoint is set), `console`, or `none`
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_SDK_DISABLED, …
 *
 * Language model calls follow the GenAI semantic conventions (`gen_ai.*`, development status): one
 * CLIENT span `chat <model>` per call, under an `invoke_agent <agent>` span per agent, under one
 * `opx.investigate` span per investigation. The SDK that exports them is in ./sdk.ts, loaded only when
 * the environment asks for it.
 */

import {
  type Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { TokenUsage } from '../llm/types.js';

export const TRACER_NAME = 'opx';

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Runs `work` inside a new active span, ending it when the work settles; a thrown error marks the
 * span failed (status ERROR, `error.type`) and is re-thrown.
 */
export async function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} },
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
        span.setAttribute('error.type', error instanceof Error ? error.constructor.name : 'Error');
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** `gen_ai.provider.name` for OPX's provider kinds (chat completions is OpenAI's wire format). */
const GEN_AI_PROVIDER: Record<string, string> = {
  anthropic: 'anthropic',
  bedrock: 'aws.bedrock',
  'openai-compatible': 'openai',
};

/** The request side of a GenAI client span. */
export function genAiRequestAttributes(call: {
  provider: string;
  model: string;
  agent: string;
  incidentId: string;
  attempt: number;
  maxTokens?: number | undefined;
}): Attributes {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': GEN_AI_PROVIDER[call.provider] ?? call.provider,
    'gen_ai.request.model': call.model,
    'gen_ai.request.temperature': 0,
    ...(call.maxTokens === undefined ? {} : { 'gen_ai.request.max_tokens': call.maxTokens }),
    'gen_ai.agent.name': call.agent,
    'opx.llm.provider': call.provider,
    'opx.incident.id': call.incidentId,
    'opx.llm.attempt': call.attempt,
  };
}

/**
 * The response side. `gen_ai.usage.input_tokens` includes cached tokens, as the conventions ask (OPX's
 * own `inputTokens` does not); a count the provider did not report is left off, never sent as 0.
 */
export function genAiResponseAttributes(result: {
  model: string;
  usage: TokenUsage;
  stopReason: string | null;
  costUsd: number | null;
  outcome: string;
}): Attributes {
  const { usage } = result;
  const attributes: Attributes = {
    'gen_ai.response.model': result.model,
    'opx.llm.outcome': result.outcome,
  };
  if (usage.inputTokens !== null)
    attributes['gen_ai.usage.input_tokens'] =
      usage.inputTokens + (usage.cacheReadTokens ?? 0) + (usage.cacheWriteTokens ?? 0);
  if (usage.outputTokens !== null) attributes['gen_ai.usage.output_tokens'] = usage.outputTokens;
  if (usage.cacheReadTokens !== null)
    attributes['gen_ai.usage.cache_read.input_tokens'] = usage.cacheReadTokens;
  if (usage.cacheWriteTokens !== null)
    attributes['gen_ai.usage.cache_creation.input_tokens'] = usage.cacheWriteTokens;
  if (result.stopReason !== null) attributes['gen_ai.response.finish_reasons'] = [result.stopReason];
  if (result.costUsd !== null) attributes['opx.llm.cost_usd'] = result.costUsd;
  return attributes;
}

/** Whether the environment asks for traces to be exported (see the module comment). */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER,
  );
}

let exporting: { shutdown(): Promise<void> } | undefined;

/** Called by ./sdk.ts once a provider is registered. */
export function setTelemetry(telemetry: { shutdown(): Promise<void> } | undefined): void {
  exporting = telemetry;
}

/**
 * Flushes spans still batched and stops exporting; a no-op when nothing exports. Processes call it
 * before they exit. An unreachable collector is reported on stderr, never fatal.
 */
export async function shutdownTelemetry(): Promise<void> {
  const current = exporting;
  exporting = undefined;
  await current?.shutdown().catch((error: unknown) => {
    process.stderr.write(`warning: exporting traces failed: ${(error as Error).message}\n`);
  });
}

/**
 * The active trace context as W3C headers (`traceparent`, `tracestate`), to store with work that runs
 * later elsewhere (a queued job); empty when nothing is traced.
 */
export function currentTraceContext(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Runs `work` as a continuation of the trace stored by currentTraceContext(), when there is one. */
export function continueTrace<T>(carrier: unknown, work: () => T): T {
  if (carrier === null || typeof carrier !== 'object') return work();
  const headers = Object.fromEntries(
    Object.entries(carrier).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  return context.with(propagation.extract(ROOT_CONTEXT, headers), work);
}
