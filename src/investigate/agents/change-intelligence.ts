import type { Change } from '../../domain/change.js';
import type { EvidenceBundle } from '../../domain/evidence.js';
import { serviceEvidenceId } from '../../domain/evidence-id.js';
import type { Claim, FindingOf } from '../../domain/finding.js';
import { DETERMINISTIC_ENGINE, onsetOf } from '../evidence.js';
import {
  type InferredOrigin,
  inferOrigin,
  reachable,
  topologyOf,
  traceOrigins,
} from './risk-blast-radius.js';

/**
 * Change suspicion, a deterministic heuristic (docs/agents.md): score = time × topology × kind × lead.
 * - time: exp(−minutes before onset / 60): a change 42 minutes before onset scores 0.5. Changes that
 *   start after onset score 0.05 — more likely a mitigation than a cause. A change on the probable
 *   origin up to a day before onset scores at least ORIGIN_TIME_FLOOR when no change reaches
 *   MIN_SUSPICION without it (nothing closer explains the fault).
 * - topology, by direction from the probable origins (risk-blast-radius's trace, or an inferred origin):
 *   on an origin 1, and so is the change an origin was inferred from beside it (`inferred-from`); on a
 *   dependency of one 0.75 at one hop, 0.5 further; on a caller of one 0.1 at one hop, 0.05 further,
 *   unless the change raises load (LOAD_RAISING): then 0.6 / 0.4; elsewhere half its neighbourhood
 *   weight. Faults travel from dependencies to their callers, so a caller's change cannot
 *   explain the origin's failure unless it sends it more work. Without an origin: the neighbourhood
 *   weight, 1 on an affected service, 0.75 / 0.5 on a dependency, 0.35 / 0.2 on a dependent.
 * - kind: deploy 1, config 0.9, db_migration 0.9, feature_flag 0.85, infra 0.7, rollback 0.3.
 * - lead: ×1.5 when the changed service is the one whose signal fired first.
 */
export const TIME_SCALE_MINUTES = 60;
const AFTER_ONSET = 0.05;
const KIND_WEIGHT: Record<Change['kind'], number> = {
  deploy: 1,
  config: 0.9,
  db_migration: 0.9,
  feature_flag: 0.85,
  infra: 0.7,
  rollback: 0.3,
};
const LEAD_BONUS = 1.5;
/** Below this the top suspect is too weak to name: the agent says so instead of guessing. */
export const MIN_SUSPICION = 0.15;
/** The least time factor of a change on the probable origin within ORIGIN_HORIZON_MINUTES (see above). */
export const ORIGIN_TIME_FLOOR = 0.25;
export const ORIGIN_HORIZON_MINUTES = 24 * 60;
const DIRECTION_WEIGHT = {
  origin: 1,
  dependency: [0.75, 0.5],
  caller: [0.1, 0.05],
  loadRaisingCaller: [0.6, 0.4],
  /** Beside the origin (neither above nor below it): this share of the neighbourhood weight. */
  beside: 0.5,
} as const;

/**
 * Load-raising changes, a deterministic heuristic: a change whose kind or summary mentions batch size,
 * retries, concurrency, traffic, a rate limit, timeouts, a (connection) pool size or max connections, or
 * the rollout of a new client or SDK may send its dependencies more work than before. Words only: it
 * does not read which way a value moved. A client library upgrade is not a new client.
 */
export const LOAD_RAISING =
  /batch[ _-]?size|\bretr(?:y|ies|ied)\b|concurren|\btraffic\b|rate[ _-]?limit|time[ _-]?outs?\b|pool[ _-]?size|connection[ _-]?pool|max[ _-]?connections|\bnew\b[\w .-]{0,24}\b(?:client|sdk)\b|\b(?:client|sdk)\b[\w .-]{0,24}\b(?:roll[ -]?out|rolled out)/i;

export function raisesLoad(change: Pick<Change, 'kind' | 'summary'>): boolean {
  return LOAD_RAISING.test(`${change.kind} ${change.summary}`);
}

/** Where a change sits relative to the probable origins; `neighbourhood` when no origin is known. */
export type ChangeRelation =
  | 'origin'
  | 'inferred-from'
  | 'dependency'
  | 'caller'
  | 'beside'
  | 'neighbourhood';

export interface ChangeSuspect {
  changeId: string;
  service: string;
  kind: Change['kind'];
  summary: string;
  minutesBeforeOnset: number;
  score: number;
  components: { time: number; topology: number; kind: number; lead: number };
  relation: ChangeRelation;
  /** The kind or summary suggests the change sends its dependencies more work (LOAD_RAISING). */
  raisesLoad: boolean;
  /**
   * The service whose failure the change would explain: its own, or for a load-raising change on a
   * caller of the origin, that origin.
   */
  target: string;
  /** The time factor is ORIGIN_TIME_FLOOR: an old change on the origin, with nothing closer. */
  oldOnOrigin: boolean;
}

function neighbourhoodWeight(
  relation: 'affected' | 'dependency' | 'dependent' | undefined,
  distance: number,
): number {
  if (relation === 'affected') return 1;
  if (relation === 'dependency') return distance <= 1 ? 0.75 : 0.5;
  if (relation === 'dependent') return distance <= 1 ? 0.35 : 0.2;
  return 0;
}

/**
 * The probable origins the ranking is directed from, the first being the most probable, and the
 * inferred origin when there is one.
 */
export function probableOrigins(bundle: EvidenceBundle): {
  origins: string[];
  inferred: InferredOrigin | null;
} {
  const traced = traceOrigins(bundle);
  const inferred = inferOrigin(bundle, traced);
  if (inferred) return { origins: [inferred.service], inferred };
  return { origins: traced.filter((entry) => entry.origin).map((entry) => entry.service), inferred };
}

export function rankChanges(bundle: EvidenceBundle): ChangeSuspect[] {
  const onset = onsetOf(bundle);
  const leading = [...bundle.signals].sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id))[0]
    ?.service;
  const place = new Map(bundle.neighbourhood.map((entry) => [entry.service, entry]));
  const { origins, inferred } = probableOrigins(bundle);
  const { dependsOn, callers } = topologyOf(bundle);
  const below = origins.map((origin) => ({ origin, hops: reachable(origin, dependsOn) }));
  const above = origins.map((origin) => ({ origin, hops: reachable(origin, callers) }));
  const nearest = (sets: { origin: string; hops: Map<string, number> }[], service: string) =>
    sets
      .filter((entry) => entry.hops.has(service))
      .map((entry) => ({ origin: entry.origin, hops: entry.hops.get(service)! }))
      .sort((a, b) => a.hops - b.hops)[0];

  const direction = (change: Change) => {
    const loads = raisesLoad(change);
    const where = place.get(change.service);
    const inNeighbourhood = neighbourhoodWeight(where?.relation, where?.distance ?? Number.POSITIVE_INFINITY);
    if (origins.length === 0)
      return { relation: 'neighbourhood' as const, topology: inNeighbourhood, target: change.service, loads };
    // The change an origin was inferred from beside it (neighbour-change) explains that origin.
    if (inferred?.basis === 'neighbour-change' && inferred.changeId === change.id)
      return {
        relation: 'inferred-from' as const,
        topology: DIRECTION_WEIGHT.origin,
        target: inferred.service,
        loads,
      };
    if (origins.includes(change.service))
      return {
        relation: 'origin' as const,
        topology: DIRECTION_WEIGHT.origin,
        target: change.service,
        loads,
      };
    const dependency = nearest(below, change.service);
    if (dependency) {
      const weight = DIRECTION_WEIGHT.dependency[dependency.hops <= 1 ? 0 : 1];
      return { relation: 'dependency' as const, topology: weight, target: change.service, loads };
    }
    const caller = nearest(above, change.service);
    if (caller) {
      const step = caller.hops <= 1 ? 0 : 1;
      return loads
        ? {
            relation: 'caller' as const,
            topology: DIRECTION_WEIGHT.loadRaisingCaller[step],
            target: caller.origin,
            loads,
          }
        : {
            relation: 'caller' as const,
            topology: DIRECTION_WEIGHT.caller[step],
            target: change.service,
            loads,
          };
    }
    return {
      relation: 'beside' as const,
      topology: inNeighbourhood * DIRECTION_WEIGHT.beside,
      target: change.service,
      loads,
    };
  };

  const scored = bundle.changes.map((change) => {
    const minutesBeforeOnset = (onset - change.startedAt) / 60_000;
    const time = minutesBeforeOnset >= 0 ? Math.exp(-minutesBeforeOnset / TIME_SCALE_MINUTES) : AFTER_ONSET;
    const placed = direction(change);
    const kind = KIND_WEIGHT[change.kind];
    const lead = change.service === leading ? LEAD_BONUS : 1;
    return { change, minutesBeforeOnset, time, placed, kind, lead };
  });
  // Nothing closer explains the fault: an older change on the most probable origin still counts.
  const raw = (entry: (typeof scored)[number]) =>
    entry.time * entry.placed.topology * entry.kind * entry.lead;
  const explained = scored.some((entry) => raw(entry) >= MIN_SUSPICION);
  const suspects = scored.map((entry): ChangeSuspect => {
    const { change, minutesBeforeOnset, placed, kind, lead } = entry;
    const oldOnOrigin =
      !explained &&
      change.service === origins[0] &&
      minutesBeforeOnset >= 0 &&
      minutesBeforeOnset <= ORIGIN_HORIZON_MINUTES &&
      entry.time < ORIGIN_TIME_FLOOR;
    const time = oldOnOrigin ? ORIGIN_TIME_FLOOR : entry.time;
    return {
      changeId: change.id,
      service: change.service,
      kind: change.kind,
      summary: change.summary,
      minutesBeforeOnset: Math.round(minutesBeforeOnset * 10) / 10,
      score: Math.round(time * placed.topology * kind * lead * 10_000) / 10_000,
      components: { time, topology: placed.topology, kind, lead },
      relation: placed.relation,
      raisesLoad: placed.loads,
      target: placed.target,
      oldOnOrigin,
    };
  });
  return suspects.sort(
    (a, b) =>
      b.score - a.score ||
      Math.abs(a.minutesBeforeOnset) - Math.abs(b.minutesBeforeOnset) ||
      a.changeId.localeCompare(b.changeId),
  );
}

/** Where the change sits, in words, for the claim. */
function whereText(suspect: ChangeSuspect): string {
  switch (suspect.relation) {
    case 'origin':
      return suspect.oldOnOrigin
        ? `; it is on the probable origin, and although old, no closer change explains the fault`
        : '; it is on the probable origin';
    case 'inferred-from':
      return `; ${suspect.service} calls the inferred origin ${suspect.target} and nothing alerting depends on it, so the change reaches the outage only through ${suspect.target}`;
    case 'dependency':
      return '; it is on a dependency of the probable origin';
    case 'caller':
      return suspect.raisesLoad
        ? `; ${suspect.service} calls the probable origin ${suspect.target}, and the change may raise load on it (a heuristic on its wording)`
        : `; ${suspect.service} calls the probable origin, so the change can hardly explain it`;
    case 'beside':
      return '; it is beside the probable origin, neither above nor below it';
    default:
      return '';
  }
}

export function analyzeChanges(bundle: EvidenceBundle): FindingOf<'change-intelligence'> {
  const ranked = rankChanges(bundle);
  const top = ranked[0];
  const firstSignal = [...bundle.signals].sort(
    (a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id),
  )[0];
  if (!top || top.score < MIN_SUSPICION || !firstSignal) {
    return {
      agent: 'change-intelligence',
      summary:
        ranked.length === 0
          ? 'No changes on the affected services or their neighbours in the look-back window.'
          : `No change stands out: the strongest suspect scores ${top?.score ?? 0} (below ${MIN_SUSPICION}).`,
      claims: [],
      data: { ranked, minSuspicion: MIN_SUSPICION },
      confidence: 0,
      insufficientEvidence: true,
      engine: DETERMINISTIC_ENGINE,
      degraded: false,
    };
  }
  const inNeighbourhood = (name: string) => bundle.neighbourhood.some((entry) => entry.service === name);
  // Confidence: the top score's share of all suspicion, damped when the top score itself is weak.
  const total = ranked.reduce((sum, suspect) => sum + suspect.score, 0);
  const confidence = Math.round(Math.min(1, top.score) * (top.score / total) * 100) / 100;
  const claims: Claim[] = [
    {
      text: `${top.kind} ${top.changeId} on ${top.service} started ${top.minutesBeforeOnset} minutes before the first signal: ${top.summary}${whereText(top)}`,
      evidenceIds: [
        top.changeId,
        firstSignal.id,
        serviceEvidenceId(top.service),
        ...(top.target !== top.service && inNeighbourhood(top.target) ? [serviceEvidenceId(top.target)] : []),
      ],
      confidence,
    },
  ];
  const runnerUp = ranked[1];
  if (runnerUp && runnerUp.score >= MIN_SUSPICION) {
    claims.push({
      text: `Next most suspicious: ${runnerUp.kind} ${runnerUp.changeId} on ${runnerUp.service} (${runnerUp.minutesBeforeOnset} minutes before onset).`,
      evidenceIds: [runnerUp.changeId, serviceEvidenceId(runnerUp.service)],
      confidence: Math.round((runnerUp.score / total) * 100) / 100,
    });
  }
  return {
    agent: 'change-intelligence',
    summary: `Most likely culprit change: ${top.kind} ${top.changeId} on ${top.service} (score ${top.score}).`,
    claims,
    data: { ranked },
    confidence,
    insufficientEvidence: false,
    engine: DETERMINISTIC_ENGINE,
    degraded: false,
  };
}
