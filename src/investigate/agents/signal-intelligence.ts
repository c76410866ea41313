import type { EvidenceBundle } from '../../domain/evidence.js';
import type { Claim, Finding } from '../../domain/finding.js';
import type { Signal } from '../../domain/signal.js';
import { DETERMINISTIC_ENGINE, serviceEvidenceId } from '../evidence.js';

export interface SignalCluster {
  /** Service and alert name (or normalized title) shared by the cluster's signals. */
  key: string;
  service: string;
  alert: string;
  signalIds: string[];
  firstAt: number;
}

export interface Anomaly {
  signalId: string;
  service: string;
  metric: string;
  value: number;
  /** How far past the line: |value − threshold| / |threshold|, or a z-score against the series. */
  magnitude: number;
  basis: 'threshold' | 'z-score';
}

export interface MessagePattern {
  pattern: string;
  count: number;
  signalIds: string[];
}

/** Numbers, hex ids, UUIDs and IPs vary between repeats of one message; replacing them groups repeats. */
export function messagePattern(text: string): string {
  return text
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<ip>')
    .replace(/\b(?:0x)?[0-9a-f]{12,}\b/gi, '<hex>')
    .replace(/\d+(?:\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

function alertOf(signal: Signal): string {
  return signal.labels.alertname ?? signal.labels.alarm_name ?? messagePattern(signal.title);
}

/** Magnitude past the threshold when the source gave one; else a z-score of the last point against the series. */
export function anomalyOf(signal: Signal): Anomaly | undefined {
  const metric = signal.metric;
  if (!metric) return undefined;
  if (metric.value !== undefined && metric.threshold !== undefined && metric.threshold !== 0) {
    return {
      signalId: signal.id,
      service: signal.service,
      metric: metric.name,
      value: metric.value,
      magnitude: round(Math.abs(metric.value - metric.threshold) / Math.abs(metric.threshold)),
      basis: 'threshold',
    };
  }
  const points = metric.datapoints ?? [];
  if (points.length >= 4) {
    const baseline = points.slice(0, -1).map((point) => point.value);
    const last = points[points.length - 1]!.value;
    const mean = baseline.reduce((sum, value) => sum + value, 0) / baseline.length;
    const deviation = Math.sqrt(
      baseline.reduce((sum, value) => sum + (value - mean) ** 2, 0) / baseline.length,
    );
    if (deviation > 0) {
      return {
        signalId: signal.id,
        service: signal.service,
        metric: metric.name,
        value: last,
        magnitude: round(Math.abs(last - mean) / deviation),
        basis: 'z-score',
      };
    }
  }
  return undefined;
}

/**
 * Signal intelligence, a deterministic heuristic (docs/agents.md): clusters repeats, orders services by
 * onset, ranks anomaly magnitude, and groups message text into patterns.
 */
export function analyzeSignals(bundle: EvidenceBundle): Finding {
  const signals = [...bundle.signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  if (signals.length === 0) {
    return {
      agent: 'signal-intelligence',
      summary: 'The evidence holds no signals.',
      claims: [],
      data: { clusters: [], onsets: [], anomalies: [], patterns: [] },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const clusters = new Map<string, SignalCluster>();
  const onsets = new Map<string, { service: string; at: number; signalId: string }>();
  const patterns = new Map<string, MessagePattern>();
  for (const signal of signals) {
    const alert = alertOf(signal);
    const key = `${signal.service}/${alert}`;
    const cluster = clusters.get(key) ?? {
      key,
      service: signal.service,
      alert,
      signalIds: [],
      firstAt: signal.startsAt,
    };
    cluster.signalIds.push(signal.id);
    clusters.set(key, cluster);
    if (!onsets.has(signal.service))
      onsets.set(signal.service, { service: signal.service, at: signal.startsAt, signalId: signal.id });
    const pattern = messagePattern(`${signal.title} ${signal.description ?? ''}`);
    const entry = patterns.get(pattern) ?? { pattern, count: 0, signalIds: [] };
    entry.count += 1;
    entry.signalIds.push(signal.id);
    patterns.set(pattern, entry);
  }
  const anomalies = signals
    .map(anomalyOf)
    .filter((anomaly): anomaly is Anomaly => anomaly !== undefined)
    .sort((a, b) => b.magnitude - a.magnitude || a.signalId.localeCompare(b.signalId));
  const onsetList = [...onsets.values()];
  const leading = onsetList[0]!;
  const gapMinutes = onsetList[1]
    ? Math.round(((onsetList[1].at - leading.at) / 60_000) * 10) / 10
    : undefined;

  const claims: Claim[] = [
    {
      text:
        gapMinutes === undefined
          ? `All signals are on ${leading.service}; the first fired at ${new Date(leading.at).toISOString()}.`
          : `${leading.service} fired first, ${gapMinutes} minutes before ${onsetList[1]!.service}.`,
      evidenceIds: [leading.signalId, serviceEvidenceId(leading.service)],
      // A clear lead (a minute or more) says more about order than near-simultaneous alerts.
      confidence: gapMinutes === undefined ? 0.6 : gapMinutes >= 1 ? 0.75 : 0.4,
    },
  ];
  const strongest = anomalies[0];
  if (strongest) {
    claims.push({
      text:
        strongest.basis === 'threshold'
          ? `Largest anomaly: ${strongest.metric} on ${strongest.service} at ${strongest.value}, ${Math.round(strongest.magnitude * 100)}% past its threshold.`
          : `Largest anomaly: ${strongest.metric} on ${strongest.service} at ${strongest.value}, ${Math.round(strongest.magnitude * 10) / 10} standard deviations from its recent values.`,
      evidenceIds: [strongest.signalId],
      confidence: 0.7,
    });
  }
  if (clusters.size < signals.length) {
    claims.push({
      text: `${signals.length} signals collapse into ${clusters.size} distinct alerts.`,
      evidenceIds: signals.slice(0, 20).map((signal) => signal.id),
      confidence: 0.9,
    });
  }
  return {
    agent: 'signal-intelligence',
    summary: `${signals.length} signals on ${onsetList.length} services; ${leading.service} led${strongest ? `; strongest anomaly ${strongest.metric} on ${strongest.service}` : ''}.`,
    claims,
    data: {
      clusters: [...clusters.values()],
      onsets: onsetList,
      anomalies,
      patterns: [...patterns.values()].sort(
        (a, b) => b.count - a.count || a.pattern.localeCompare(b.pattern),
      ),
    },
    confidence: claims[0]!.confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
