/**
 * What a responder sees of an outage, shared by the quality and outages benchmarks: which incidents
 * paged for it, which survive once merged incidents are followed to the one they were merged into,
 * the incident a responder would open, and what that incident's automatic investigation answered.
 *
 * Fields the incident API is gaining (`mergedInto`, `rootService`, `currentInvestigationId`) are read
 * when present, so the same code measures the API before and after they land.
 */

/** A finding as stored and as the API returns it; only the fields read here. */
export interface FindingLike {
  agent: string;
  insufficientEvidence?: boolean;
  confidence?: number;
  data?: unknown;
}

export const asRecord = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};

export const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

export function findingOf<F extends FindingLike>(findings: readonly F[], agent: string): F | undefined {
  return findings.find((finding) => finding.agent === agent);
}

/**
 * The strategy's ranked candidates: a list of `{ service, votes }` in its own order, or (older
 * engines) a map of service to votes, ranked here by votes.
 */
export function rankedCandidates(value: unknown): [string, number][] {
  if (Array.isArray(value)) {
    return value
      .map(asRecord)
      .filter((entry) => typeof entry.service === 'string')
      .map((entry) => [entry.service as string, typeof entry.votes === 'number' ? entry.votes : 0]);
  }
  return Object.entries(asRecord(value))
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export interface Answer {
  /** response-strategy said "insufficient evidence" (or there was no strategy finding). */
  abstained: boolean;
  /** response-strategy's probable root-cause service; null when it abstained. */
  rootCause: string | null;
  confidence: number;
  candidates: [string, number][];
  /** The change response-strategy names as the cause; null when none or it abstained. */
  namedChangeId: string | null;
  /** change-intelligence's top suspect; null when it abstained. */
  topChangeId: string | null;
  /** change-intelligence's ranking: change ids with their scores. */
  rankedChanges: { changeId: string; score: number; minutesBeforeOnset: number }[];
  trust: { score: number; abstain: boolean } | null;
}

/** Reads the answer of one investigation from its findings. */
export function readAnswer(findings: readonly FindingLike[]): Answer {
  const strategy = findingOf(findings, 'response-strategy');
  const strategyData = asRecord(strategy?.data);
  const abstained = strategy?.insufficientEvidence ?? true;
  const probable = asRecord(strategyData.probableRootCause);
  const changes = findingOf(findings, 'change-intelligence');
  const ranked = Array.isArray(asRecord(changes?.data).ranked)
    ? (asRecord(changes?.data).ranked as unknown[]).map(asRecord)
    : [];
  const trust = asRecord(strategyData.trust);
  return {
    abstained,
    rootCause: abstained ? null : typeof probable.service === 'string' ? probable.service : null,
    confidence: strategy?.confidence ?? 0,
    candidates: rankedCandidates(strategyData.candidates),
    namedChangeId: abstained ? null : typeof probable.changeId === 'string' ? probable.changeId : null,
    topChangeId:
      changes && !changes.insufficientEvidence && typeof ranked[0]?.changeId === 'string'
        ? (ranked[0].changeId as string)
        : null,
    rankedChanges: ranked
      .filter((entry) => typeof entry.changeId === 'string')
      .map((entry) => ({
        changeId: entry.changeId as string,
        score: Number(entry.score ?? 0),
        minutesBeforeOnset: Number(entry.minutesBeforeOnset ?? 0),
      })),
    trust: typeof trust.score === 'number' ? { score: trust.score, abstain: trust.abstain === true } : null,
  };
}

/** Signal ids an incident event names (`signal_attached`, or any event carrying signalIds or signalId). */
export function eventSignalIds(data: unknown): string[] {
  if (data === null || typeof data !== 'object') return [];
  const record = data as { signalIds?: unknown; signalId?: unknown };
  const ids = Array.isArray(record.signalIds)
    ? record.signalIds.filter((id): id is string => typeof id === 'string')
    : [];
  if (typeof record.signalId === 'string') ids.push(record.signalId);
  return ids;
}

/** `mergedInto` of an incident, whether or not this build of OPX has the field yet. */
export function mergedIntoOf(incident: object): string | null {
  const value = (incident as { mergedInto?: unknown }).mergedInto;
  return typeof value === 'string' && value !== '' ? value : null;
}

/** `rootService` of an incident, when this build of OPX has the field. */
export function rootServiceOf(incident: object): string | null | undefined {
  if (!('rootService' in incident)) return undefined;
  const value = (incident as { rootService?: unknown }).rootService;
  return typeof value === 'string' ? value : null;
}

/** `currentInvestigationId` of an incident, when this build of OPX has the field. */
export function currentInvestigationOf(incident: object): string | null | undefined {
  if (!('currentInvestigationId' in incident)) return undefined;
  const value = (incident as { currentInvestigationId?: unknown }).currentInvestigationId;
  return typeof value === 'string' ? value : null;
}

/** Follows `mergedInto` to the incident that absorbed this one (itself when it was never merged). */
export function survivorOf(id: string, mergedInto: (id: string) => string | null): string {
  const seen = new Set<string>([id]);
  let current = id;
  for (;;) {
    const next = mergedInto(current);
    if (next === null || seen.has(next)) return current;
    seen.add(next);
    current = next;
  }
}

export interface Survivors<R extends string> {
  /** Incident id → the incident it survives as (itself unless merged). */
  survivor: Map<string, string>;
  /** Surviving incident → the signals (ids) it stands for by role, merged incidents' included. */
  holdings: Map<string, Map<R, Set<string>>>;
  /** Incident → roles of its own signals. */
  own: Map<string, Set<R>>;
}

/**
 * Groups incidents by the incident they survive as. `signalsOf` gives the signals an incident holds
 * now, with a role each (an outage id, noise, …; null for a signal the scenario does not know);
 * merged incidents lend theirs to their survivor, whether or not OPX moved the links. `everOf`, when
 * given, adds signals an incident held at some point (its timeline), so an incident whose signals
 * moved elsewhere still counts as a page for them.
 */
export function survivors<R extends string>(
  incidents: readonly { id: string; mergedInto: string | null }[],
  signalsOf: (id: string) => readonly { id: string; role: R | null }[],
  everOf?: (id: string) => readonly { id: string; role: R | null }[],
): Survivors<R> {
  const byId = new Map(incidents.map((incident) => [incident.id, incident]));
  const mergedInto = (id: string) => byId.get(id)?.mergedInto ?? null;
  const survivor = new Map<string, string>();
  const holdings = new Map<string, Map<R, Set<string>>>();
  const own = new Map<string, Set<R>>();
  for (const incident of incidents) {
    const target = survivorOf(incident.id, mergedInto);
    survivor.set(incident.id, target);
    const roles = holdings.get(target) ?? new Map<R, Set<string>>();
    holdings.set(target, roles);
    const mine = new Set<R>();
    for (const signal of signalsOf(incident.id)) {
      if (signal.role === null) continue;
      mine.add(signal.role);
      const set = roles.get(signal.role) ?? new Set<string>();
      set.add(signal.id);
      roles.set(signal.role, set);
    }
    for (const signal of everOf?.(incident.id) ?? []) if (signal.role !== null) mine.add(signal.role);
    own.set(incident.id, mine);
  }
  return { survivor, holdings, own };
}

/** Incidents that paged for `role` (held one of its signals), and what is left of them after merges. */
export function pagesFor<R extends string>(
  groups: Survivors<R>,
  role: R,
): { opened: string[]; surviving: string[] } {
  const opened = [...groups.own.entries()].filter(([, roles]) => roles.has(role)).map(([id]) => id);
  const surviving = [...new Set(opened.map((id) => groups.survivor.get(id)!))];
  return { opened, surviving };
}

export interface ResponderCandidate {
  id: string;
  detectedAt: number;
  /** It holds a signal from the outage's origin service. */
  holdsOrigin: boolean;
  /** Signals of the outage it holds (merged incidents' included). */
  outageSignals: number;
}

/**
 * The incident a responder would look at for an outage: among the surviving incidents holding its
 * signals, the one holding the origin's own alerts, else the one holding most of the outage's
 * signals; then the first detected.
 */
export function responderIncident(candidates: readonly ResponderCandidate[]): ResponderCandidate | undefined {
  return [...candidates]
    .filter((candidate) => candidate.outageSignals > 0)
    .sort(
      (a, b) =>
        Number(b.holdsOrigin) - Number(a.holdsOrigin) ||
        b.outageSignals - a.outageSignals ||
        a.detectedAt - b.detectedAt ||
        a.id.localeCompare(b.id),
    )[0];
}
