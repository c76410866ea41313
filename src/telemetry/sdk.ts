/**
 * The OpenTelemetry SDK side of tracing (see ./tracing.ts): a tracer provider with the exporter the
 * standard OTEL_* variables ask for. Imported only when tracing is requested.
 */

import { trace } from '@opentelemetry/api';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { setTelemetry } from './tracing.js';

export interface Telemetry {
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

/** The exporter the standard variables ask for, or none. */
function exporterFromEnv(env: NodeJS.ProcessEnv): Promise<SpanExporter | undefined> | undefined {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return undefined;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const kinds = (env.OTEL_TRACES_EXPORTER ?? (endpoint ? 'otlp' : 'none'))
    .split(',')
    .map((kind) => kind.trim().toLowerCase());
  if (kinds.includes('none')) return undefined;
  if (kinds.includes('otlp'))
    // Loaded only when asked for: most runs export nothing.
    return import('@opentelemetry/exporter-trace-otlp-http').then(
      ({ OTLPTraceExporter }) => new OTLPTraceExporter(),
    );
  if (kinds.includes('console')) return Promise.resolve(new ConsoleSpanExporter());
  throw new Error(
    `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: OPX exports traces with otlp, console or none`,
  );
}

/**
 * Registers a tracer provider when the environment asks for an exporter (see the module comment).
 * Returns undefined, and registers nothing, when it does not.
 */
export async function startTelemetry(
  options: { env?: NodeJS.ProcessEnv; processors?: SpanProcessor[] } = {},
): Promise<Telemetry | undefined> {
  const env = options.env ?? process.env;
  const exporter = await exporterFromEnv(env);
  const processors = [...(options.processors ?? []), ...(exporter ? [new BatchSpanProcessor(exporter)] : [])];
  if (processors.length === 0) return undefined;
  const resource = resourceFromAttributes({ 'service.name': 'opx' }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  const telemetry = {
    async shutdown() {
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
      }
    },
  };
  setTelemetry(telemetry);
  return telemetry;
}
