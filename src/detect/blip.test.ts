import { describe, expect, it } from 'vitest';
import { BLIP_MAX_MS, findBlip, type Member } from './blip.js';

const MINUTE = 60_000;
const rule = { kind: 'rule', rule: 'critical-signal' } as const;
const topology = (relation: 'same' | 'caller' | 'dependency', path: string[]) =>
  ({ kind: 'topology', rule: 'service-topology', relation, path }) as const;

function member(signalId: string, service: string, fields: Partial<Member> = {}): Member {
  return { signalId, service, startsAt: 0, endsAt: null, reason: rule, pinned: false, ...fields };
}

/** A pricing outage (pricing, then its gateway) and a DNS blip that joined as pricing's dependency. */
const outage = [
  member('s1', 'pricing'),
  member('s2', 'gateway', { startsAt: MINUTE, reason: topology('caller', ['gateway', 'pricing']) }),
];
const dns = [
  member('s3', 'dns', {
    startsAt: 6 * MINUTE,
    endsAt: 7.5 * MINUTE,
    reason: topology('dependency', ['dns', 'pricing']),
  }),
  member('s4', 'dns', { startsAt: 6 * MINUTE, endsAt: 8 * MINUTE, reason: topology('same', ['dns']) }),
];

describe('findBlip', () => {
  it('finds a dependency that recovered while failures older than it went on', () => {
    expect(findBlip([...outage, ...dns])).toEqual({
      service: 'dns',
      signalIds: ['s3', 's4'],
      startedAt: 6 * MINUTE,
      endedAt: 8 * MINUTE,
      outlasting: 'pricing',
    });
  });

  it('takes along what joined through the blip, and waits while any of it still fires', () => {
    const rider = member('s5', 'payments', {
      startsAt: 6.5 * MINUTE,
      endsAt: 7 * MINUTE,
      reason: topology('caller', ['payments', 'dns']),
    });
    const riderOfRider = member('s6', 'billing', {
      startsAt: 7 * MINUTE,
      endsAt: 7.5 * MINUTE,
      reason: topology('caller', ['billing', 'payments']),
    });
    expect(findBlip([...outage, ...dns, rider, riderOfRider])?.signalIds).toEqual(['s3', 's4', 's5', 's6']);
    expect(findBlip([...outage, ...dns, rider, { ...riderOfRider, endsAt: null }])).toBeNull();
  });

  it('is no blip while firing, when longer than a blip, or when placed by hand', () => {
    expect(findBlip([...outage, dns[0]!, { ...dns[1]!, endsAt: null }])).toBeNull();
    expect(findBlip([...outage, dns[0]!, { ...dns[1]!, endsAt: 6 * MINUTE + BLIP_MAX_MS + 1 }])).toBeNull();
    expect(findBlip([...outage, dns[0]!, { ...dns[1]!, pinned: true }])).toBeNull();
  });

  it('is no blip when nothing older outlasts it: then it may well have been the cause', () => {
    const over = outage.map((entry) => ({ ...entry, endsAt: 7 * MINUTE }));
    expect(findBlip([...over, ...dns])).toBeNull();
    // Failures that began after it do not count against it.
    const later = member('s7', 'checkout', {
      startsAt: 7 * MINUTE,
      reason: topology('caller', ['checkout', 'pricing']),
    });
    expect(findBlip([...over, ...dns, later])).toBeNull();
  });

  it('only splits what joined as a possible cause: a symptom that recovers stays', () => {
    const symptom = member('s8', 'web', {
      startsAt: 6 * MINUTE,
      endsAt: 7 * MINUTE,
      reason: topology('caller', ['web', 'gateway']),
    });
    expect(findBlip([...outage, symptom])).toBeNull();
    // The incident's own first signal never joined by topology.
    expect(
      findBlip([
        { ...outage[0]!, endsAt: MINUTE },
        { ...outage[1]!, startsAt: -MINUTE },
      ]),
    ).toBeNull();
  });

  it('splits an origin sibling that recovered, but not a sibling of a change', () => {
    // search shares the silent cache with pricing, the origin, and errored for two minutes.
    const sibling = {
      kind: 'topology' as const,
      rule: 'service-topology',
      relation: 'sibling' as const,
      path: ['search', 'cache', 'pricing'],
      shared: 'cache',
    };
    const search = member('s9', 'search', { startsAt: 6 * MINUTE, endsAt: 8 * MINUTE, reason: sibling });
    expect(findBlip([...outage, search])).toMatchObject({ service: 'search', signalIds: ['s9'] });
    const ofChange = { ...search, reason: { ...sibling, change: 'chg_cache_config' } };
    expect(findBlip([...outage, ofChange])).toBeNull();
  });
});
