import type { EvidenceBundle } from '../../domain/evidence.js';
import { serviceEvidenceId } from '../../domain/evidence-id.js';
import type { Claim, FindingOf } from '../../domain/finding.js';
import type { Signal } from '../../domain/signal.js';
import { DETERMINISTIC_ENGINE } from '../evidence.js';

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
  /**
   * How far past the line: |value − threshold| / |threshold| (threshold); robust z-score of the onset
   * window against the series' baseline (baseline); change from the pre-onset level in units of 10% of
   * that level (change); z-score of the last point against the earlier ones (z-score).
   */
  magnitude: number;
  basis: 'threshold' | 'baseline' | 'change' | 'z-score';
  /** First datapoint at or after the start whose score reached ANOMALY_Z (baseline and change only). */
  onsetAt?: number | null;
}

/**
 * Datapoint statistics, deterministic heuristics (docs/agents.md). A datapoint stands for the period
 * that starts at its time; the period is the median gap between points.
 * - The onset window is every point within WINDOW_STEPS periods of the signal's start. Points whose
 *   period ended by the start are "pre-onset"; the others are "at onset".
 * - The baseline is every point outside the window (before or after: a reference period may be
 *   recorded separately), at least MIN_BASELINE_POINTS of them: its median and spread. The spread is
 *   1.4826 × MAD; when that is 0 (a flat metric that now and then dips or spikes), the distance from
 *   the median to the 1st (or 99th, on the side of the deviation) percentile divided by 2.326 (both
 *   equal σ for normal data); never below 0.1% of the largest level involved.
 * - Score of a point at onset: its distance from the baseline median, or from the pre-onset point
 *   closest to that median if that is nearer, in robust spreads: a level that was already off before
 *   the start is not news. The series' score is the largest at onset.
 * - Without a baseline, the score is the change from the pre-onset median in units of 10% of it.
 */
const round = (value: number) => Math.round(value * 10_000) / 10_000;

export const WINDOW_STEPS = 3;
export const MIN_BASELINE_POINTS = 10;
/** A score of at least this is an anomaly. */
export const ANOMALY_Z = 3;
/** An alert whose own datapoints score below this is contradicted by them. */
export const CORROBORATION_Z = 2;
/** Scores at or past this are all equally certain anomalies (strength 1). */
export const SATURATION_Z = 10;
const ASSUMED_VARIATION = 0.1;
/** The least noise assumed of a percentage judged by its pre-onset points alone: 1% of its level. */
const PERCENTAGE_VARIATION = 0.01;

/** A metric of the share of requests that succeed (availability, success rate, uptime), by its name. */
export function successRatio(signal: Signal): boolean {
  return /availability|success[_ ]?(rate|ratio)|uptime/i.test(signal.metric?.name ?? '');
}

/** A percentage metric: unit `%`, or a success ratio. */
function isPercentage(signal: Signal): boolean {
  return signal.metric?.unit === '%' || successRatio(signal);
}
const MAX_SCORE = 1e6;

export interface SeriesAssessment {
  basis: 'baseline' | 'change';
  /** z-equivalent score of the window at onset (see above). */
  score: number;
  /** The most deviant value at onset and its time. */
  value: number;
  at: number;
  /** First point at onset whose score reached ANOMALY_Z, or null. */
  onsetAt: number | null;
  /** The level the window is compared with: baseline median, or pre-onset median without a baseline. */
  reference: number;
  baselinePoints: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Linear interpolation between the order statistics of a sorted sample. */
function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/** The 99th percentile of the standard normal distribution. */
const Z_99 = 2.326;

/** Scores a signal's datapoints around its start; undefined when they cannot say anything. */
export function assessSeries(signal: Signal): SeriesAssessment | undefined {
  const points = [...(signal.metric?.datapoints ?? [])]
    .filter((point) => Number.isFinite(point.value))
    .sort((a, b) => a.at - b.at);
  if (points.length < 2) return undefined;
  const gaps = points.slice(1).map((point, index) => point.at - points[index]!.at);
  const step = median(gaps.filter((gap) => gap > 0).length > 0 ? gaps.filter((gap) => gap > 0) : [1]);
  const start = signal.startsAt;
  const inWindow = (at: number) => Math.abs(at - start) <= WINDOW_STEPS * step;
  const baseline = points.filter((point) => !inWindow(point.at)).map((point) => point.value);
  const pre = points.filter((point) => inWindow(point.at) && point.at + step <= start);
  const atOnset = points.filter((point) => inWindow(point.at) && point.at + step > start);
  if (atOnset.length === 0) return undefined;

  let reference: number;
  let score: (value: number) => number;
  let basis: SeriesAssessment['basis'];
  if (baseline.length >= MIN_BASELINE_POINTS) {
    const level = median(baseline);
    const mad = 1.4826 * median(baseline.map((value) => Math.abs(value - level)));
    // A metric that is flat but now and then dips (or spikes) has a MAD of 0; then the distance to its
    // 1st (99th) percentile, in normal-distribution units, is its spread on that side.
    const sorted = [...baseline].sort((a, b) => a - b);
    const low = (level - quantile(sorted, 0.01)) / Z_99;
    const high = (quantile(sorted, 0.99) - level) / Z_99;
    const largest = Math.max(Math.abs(level), ...atOnset.map((point) => Math.abs(point.value)));
    const floor = 0.001 * largest;
    const spreadFor = (value: number) => Math.max(mad > 0 ? mad : value < level ? low : high, floor);
    const before = [...pre].sort(
      (a, b) => Math.abs(a.value - level) - Math.abs(b.value - level) || a.at - b.at,
    )[0];
    reference = level;
    basis = 'baseline';
    score = (value) => {
      const spread = spreadFor(value);
      if (spread === 0) return 0;
      return (
        Math.min(
          Math.abs(value - level),
          before ? Math.abs(value - before.value) : Number.POSITIVE_INFINITY,
        ) / spread
      );
    };
  } else if (pre.length > 0) {
    const level = median(pre.map((point) => point.value));
    // No reference period: the pre-onset points are the series' own baseline. A percentage such as
    // availability hardly moves at its normal level (100% to 91% is an outage): its noise is the
    // largest step between those points, never less than 1% of the level. Other metrics keep an
    // assumed 10% of the level (their pre-onset points may already hold the ramp of an alert's `for:`).
    const steps = pre.slice(1).map((point, index) => Math.abs(point.value - pre[index]!.value));
    const unit = isPercentage(signal)
      ? Math.max(...steps, PERCENTAGE_VARIATION * Math.abs(level))
      : ASSUMED_VARIATION * Math.abs(level);
    reference = level;
    basis = 'change';
    score = (value) => (value === level ? 0 : unit === 0 ? MAX_SCORE : Math.abs(value - level) / unit);
  } else {
    return undefined;
  }
  // A success ratio only fails downwards: availability rising back to its level is no anomaly.
  const onlyDrops = successRatio(signal);
  let best = atOnset[0]!;
  let bestScore = -1;
  let onsetAt: number | null = null;
  for (const point of atOnset) {
    const value = onlyDrops && point.value >= reference ? 0 : Math.min(MAX_SCORE, score(point.value));
    if (value > bestScore) {
      best = point;
      bestScore = value;
    }
    if (onsetAt === null && value >= ANOMALY_Z) onsetAt = point.at;
  }
  return {
    basis,
    score: round(bestScore),
    value: best.value,
    at: best.at,
    onsetAt,
    reference: round(reference),
    baselinePoints: baseline.length,
  };
}

/**
 * What one signal says about its service's health. Alerts (severity warning or above) are symptoms;
 * signals of severity info are observations, which count only when their datapoints show an anomaly.
 * - measured (its datapoints could be scored): anomalous at ANOMALY_Z or more; an alert scoring at
 *   least CORROBORATION_Z but less is "weak" (a symptom, not a cause); below that the datapoints
 *   contradict the alert and it counts for nothing.
 * - unmeasured alert (no usable datapoints, or a source threshold): unhealthy, as the source says.
 */
export interface SignalEvidence {
  signalId: string;
  service: string;
  alert: boolean;
  state: 'anomalous' | 'weak' | 'normal' | 'unmeasured';
  /** 0..1: min(1, score / SATURATION_Z) when measured; 1 for an unmeasured alert. */
  strength: number;
  score: number | null;
  onsetAt: number;
}

export function signalEvidence(signal: Signal): SignalEvidence {
  const alert = signal.severity !== 'info';
  const base = { signalId: signal.id, service: signal.service, alert };
  const hasThreshold =
    signal.metric?.value !== undefined &&
    signal.metric.threshold !== undefined &&
    signal.metric.threshold !== 0;
  const assessed = hasThreshold ? undefined : assessSeries(signal);
  if (!assessed) {
    return { ...base, state: 'unmeasured', strength: alert ? 1 : 0, score: null, onsetAt: signal.startsAt };
  }
  const state =
    assessed.score >= ANOMALY_Z
      ? 'anomalous'
      : alert && assessed.score >= CORROBORATION_Z
        ? 'weak'
        : 'normal';
  return {
    ...base,
    state,
    strength: state === 'anomalous' ? round(Math.min(1, assessed.score / SATURATION_Z)) : 0,
    score: assessed.score,
    onsetAt: assessed.onsetAt ?? signal.startsAt,
  };
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

function alertOf(signal: Signal): string {
  return signal.labels.alertname ?? signal.labels.alarm_name ?? messagePattern(signal.title);
}

/**
 * Magnitude past the threshold when the source gave one; else the datapoints scored around the start
 * (assessSeries); else a z-score of the last point against the earlier ones (at least 4 points).
 */
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
  const assessed = assessSeries(signal);
  if (assessed) {
    return {
      signalId: signal.id,
      service: signal.service,
      metric: metric.name,
      value: assessed.value,
      magnitude: assessed.score,
      basis: assessed.basis,
      onsetAt: assessed.onsetAt,
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
export function analyzeSignals(bundle: EvidenceBundle): FindingOf<'signal-intelligence'> {
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
  const onsets = new Map<string, { service: string; at: number; signalId: string; strength: number }>();
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
    // Onset: when the service first showed a problem. Datapoints say when they crossed the anomaly
    // line; datapoints within normal range, and observations that show nothing, are no onset.
    const evidence = signalEvidence(signal);
    const counts =
      evidence.state === 'anomalous' ||
      (evidence.alert && (evidence.state === 'weak' || evidence.state === 'unmeasured'));
    const current = onsets.get(signal.service);
    if (
      counts &&
      (!current ||
        evidence.onsetAt < current.at ||
        (evidence.onsetAt === current.at && evidence.strength > current.strength))
    ) {
      onsets.set(signal.service, {
        service: signal.service,
        at: evidence.onsetAt,
        signalId: signal.id,
        strength: evidence.strength,
      });
    }
    const pattern = messagePattern(`${signal.title} ${signal.description ?? ''}`);
    const entry = patterns.get(pattern) ?? { pattern, count: 0, signalIds: [] };
    entry.count += 1;
    entry.signalIds.push(signal.id);
    patterns.set(pattern, entry);
  }
  const severityOf = new Map(signals.map((signal) => [signal.id, signal.severity]));
  const anomalies = signals
    .map(anomalyOf)
    .filter((anomaly): anomaly is Anomaly => anomaly !== undefined)
    // An observation whose datapoints stay within normal range is not an anomaly worth listing.
    .filter(
      (anomaly) =>
        (anomaly.basis !== 'baseline' && anomaly.basis !== 'change') ||
        anomaly.magnitude >= ANOMALY_Z ||
        severityOf.get(anomaly.signalId) !== 'info',
    )
    .sort((a, b) => b.magnitude - a.magnitude || a.signalId.localeCompare(b.signalId));
  // Earliest first; at the same time the stronger anomaly leads (datapoints have coarse times).
  const onsetList = [...onsets.values()].sort((a, b) => a.at - b.at || b.strength - a.strength);
  const leading = onsetList[0];
  if (!leading) {
    return {
      agent: 'signal-intelligence',
      summary: `${signals.length} signals; their datapoints stay within normal range at onset, so none shows a problem.`,
      claims: [],
      data: { clusters: [...clusters.values()], onsets: [], anomalies, patterns: [...patterns.values()] },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const services = new Set(signals.map((signal) => signal.service));
  const gapMinutes = onsetList[1]
    ? Math.round(((onsetList[1].at - leading.at) / 60_000) * 10) / 10
    : undefined;

  const claims: Claim[] = [
    {
      text:
        gapMinutes === undefined
          ? services.size === 1
            ? `All signals are on ${leading.service}; the first fired at ${new Date(leading.at).toISOString()}.`
            : `Only ${leading.service} shows a problem; it started at ${new Date(leading.at).toISOString()}.`
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
          : strongest.basis === 'change'
            ? `Largest anomaly: ${strongest.metric} on ${strongest.service} at ${strongest.value}, ${Math.round(strongest.magnitude * 10)}% off its level before onset.`
            : `Largest anomaly: ${strongest.metric} on ${strongest.service} at ${strongest.value}, ${Math.round(strongest.magnitude * 10) / 10} standard deviations from ${strongest.basis === 'baseline' ? 'its baseline' : 'its recent values'}.`,
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
    summary: `${signals.length} signals on ${services.size} services${onsetList.length < services.size ? ` (${onsetList.length} showing a problem)` : ''}; ${leading.service} led${strongest ? `; strongest anomaly ${strongest.metric} on ${strongest.service}` : ''}.`,
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
