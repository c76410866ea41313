import type { JoinReason } from '../domain/incident.js';

/**
 * Blips beside an outage (a deterministic heuristic, docs/correlation.md). A dependency that starts
 * alerting while an incident is open joins it as a possible cause: its callers' failures could be
 * its doing, and its `for:` clause may simply be longer. When it then recovers within minutes while
 * services that were failing before it started go on failing, it neither started nor sustained
 * their failure: it was a blip on a busy dependency (a DNS restart, a connection spike on a shared
 * database) that happened during the outage. The same holds for a service that joined only because it
 * shares a silent dependency with the origin (an origin sibling). Its signals leave the incident, with those that joined
 * only through it, so the outage keeps its origin and the blip is kept on its own record.
 */

/** Longest episode, first start to last end, that counts as a blip. */
export const BLIP_MAX_MS = 5 * 60_000;

/** One signal on an incident, with why it joined. */
export interface Member {
  signalId: string;
  service: string;
  startsAt: number;
  /** When it resolved; null while firing. */
  endsAt: number | null;
  reason: JoinReason | null;
  /** Placed by a human: never moved automatically. */
  pinned: boolean;
}

export interface Blip {
  /** The dependency that blipped. */
  service: string;
  /** Its signals, and those that joined the incident only through it, in start order. */
  signalIds: string[];
  startedAt: number;
  endedAt: number;
  /** A service that was failing before the blip started and still was after it ended. */
  outlasting: string;
}

/** Services a member's topology join passed through, its own excluded. */
function joinedThrough(member: Member): string[] {
  return member.reason?.kind === 'topology' ? member.reason.path.slice(1) : [];
}

/**
 * Whether a member joined in a way a blip can: as a dependency (the incident calls it), or as an
 * origin sibling (it shares a silent dependency with the origin, src/detect/topology.ts
 * originSiblingPath). A sibling of a change keeps its place: the change connects it, not its timing.
 */
function mayBlip(reason: JoinReason | null): boolean {
  if (reason?.kind !== 'topology') return false;
  return reason.relation === 'dependency' || (reason.relation === 'sibling' && reason.change === undefined);
}

/**
 * The first blip among an incident's members, or null. A blip is a service whose earliest signal on
 * the incident joined by topology as a dependency or an origin sibling (mayBlip); whose signals, and those of
 * every member that joined through it, have all resolved, none placed by hand; whose episode lasted at
 * most `maxMs`; and which is outlasted by a member on another service that started before it and was
 * still firing when it ended.
 */
export function findBlip(members: readonly Member[], maxMs = BLIP_MAX_MS): Blip | null {
  const byService = new Map<string, Member[]>();
  for (const member of members) {
    const list = byService.get(member.service);
    if (list) list.push(member);
    else byService.set(member.service, [member]);
  }
  const candidates = [...byService.entries()]
    .map(([service, list]) => ({
      service,
      list: [...list].sort((a, b) => a.startsAt - b.startsAt || a.signalId.localeCompare(b.signalId)),
    }))
    .sort((a, b) => a.list[0]!.startsAt - b.list[0]!.startsAt || a.service.localeCompare(b.service));
  for (const { service, list } of candidates) {
    const first = list[0]!;
    if (!mayBlip(first.reason)) continue;
    // The dependency's own signals and every member that joined through it (transitively).
    const moving = new Set(list.map((member) => member.signalId));
    const through = new Set([service]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const member of members) {
        if (moving.has(member.signalId) || !joinedThrough(member).some((name) => through.has(name))) continue;
        moving.add(member.signalId);
        through.add(member.service);
        grew = true;
      }
    }
    const leaving = members.filter((member) => moving.has(member.signalId));
    if (leaving.some((member) => member.pinned || member.endsAt === null)) continue;
    const endedAt = Math.max(...leaving.map((member) => member.endsAt!));
    if (endedAt - first.startsAt > maxMs) continue;
    const outlasting = members
      .filter(
        (member) =>
          !moving.has(member.signalId) &&
          member.service !== service &&
          member.startsAt < first.startsAt &&
          (member.endsAt === null || member.endsAt > endedAt),
      )
      .sort((a, b) => a.startsAt - b.startsAt || a.signalId.localeCompare(b.signalId))[0];
    if (!outlasting) continue;
    return {
      service,
      signalIds: [...leaving]
        .sort((a, b) => a.startsAt - b.startsAt || a.signalId.localeCompare(b.signalId))
        .map((member) => member.signalId),
      startedAt: first.startsAt,
      endedAt,
      outlasting: outlasting.service,
    };
  }
  return null;
}
