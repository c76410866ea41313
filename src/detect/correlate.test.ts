import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncidentSeverity } from '../domain/common.js';
import { storeSignals, storeWithIncident } from '../store/memory.test-support.js';
import type { Store } from '../store/store.js';
import { type Attachment, correlate, type IncidentTarget, type NewIncident } from './correlate.js';
import { type CompiledRuleSet, compileRules } from './rules.js';
import { dependencyGraph, type GraphPath } from './topology.js';

const T0 = Date.UTC(2026, 11, 1, 12);

/**
 * An IncidentTarget that records what correlation decided. The incident it opens is a real row (detections
 * point at it); `near` stands for an open incident a topology join may reach.
 */
class RecordingTarget implements IncidentTarget {
  created: NewIncident[] = [];
  joins: { id: string; signalId: string; attachment: Attachment }[] = [];
  escalations: { id: string; severity: IncidentSeverity }[] = [];
  constructor(
    private readonly openedId: string,
    private readonly near?: { id: string; service: string; path: GraphPath },
  ) {}
  async load(): Promise<void> {}
  async loadActive(): Promise<void> {}
  async loadNear(): Promise<void> {}
  activeFor(): string | undefined {
    return undefined;
  }
  topologyTarget(service: string): { id: string; path: GraphPath } | undefined {
    return this.near && service !== this.near.service
      ? { id: this.near.id, path: this.near.path }
      : undefined;
  }
  async reopen(): Promise<string | undefined> {
    return undefined;
  }
  create(spec: NewIncident): string {
    this.created.push(spec);
    return this.openedId;
  }
  escalate(id: string, severity: IncidentSeverity): void {
    this.escalations.push({ id, severity });
  }
  join(id: string, signalId: string, attachment: Attachment): void {
    this.joins.push({ id, signalId, attachment });
  }
  describe(): { environment: string | null; startedAt: number; services: readonly string[] } {
    return { environment: 'prod', startedAt: T0, services: this.created.length ? ['checkout'] : [] };
  }
}

let store: Store;
let incidentId: string;
let rules: CompiledRuleSet;

beforeEach(async () => {
  // A real incident row for detections to point at; correlation itself only sees the target.
  ({ store, incidentId } = await storeWithIncident('seed', T0));
  rules = compileRules(await store.rules.list());
});

afterEach(async () => {
  await store.close();
});

describe('correlate', () => {
  it('opens one incident for a critical signal and joins it by the rule that matched', async () => {
    const target = new RecordingTarget(incidentId);
    const joined = await store.transaction(async (scope) => {
      const signals = await storeSignals(scope, [{ service: 'checkout', severity: 'critical' }], T0 + 60_000);
      return correlate(scope, signals, { now: T0, rules, graph: undefined }, target);
    });
    expect(target.created).toMatchObject([{ severity: 'SEV2', environment: 'prod' }]);
    expect(target.joins).toMatchObject([
      {
        id: incidentId,
        attachment: { service: 'checkout', reason: { kind: 'rule', rule: 'critical-signal' } },
      },
    ]);
    expect([...joined.values()]).toEqual([[incidentId]]);
  });

  it('opens nothing for a lone warning: no threshold rule is met', async () => {
    const target = new RecordingTarget(incidentId);
    await store.transaction(async (scope) => {
      const signals = await storeSignals(scope, [{ service: 'checkout', severity: 'warning' }], T0 + 60_000);
      return correlate(scope, signals, { now: T0, rules, graph: undefined }, target);
    });
    expect(target.created).toEqual([]);
    expect(target.joins).toEqual([]);
  });

  it('joins a caller to the open incident the topology reaches, with its path, instead of opening one', async () => {
    const graph = dependencyGraph([{ service: 'web', dependsOn: 'checkout' }]);
    const path: GraphPath = { relation: 'caller', path: ['web', 'checkout'] };
    const target = new RecordingTarget(incidentId, { id: 'inc_near', service: 'checkout', path });
    const joined = await store.transaction(async (scope) => {
      const signals = await storeSignals(scope, [{ service: 'web', severity: 'critical' }], T0 + 60_000);
      return correlate(scope, signals, { now: T0, rules, graph }, target);
    });
    expect(target.created).toEqual([]);
    expect(target.joins).toMatchObject([
      {
        id: 'inc_near',
        attachment: {
          service: 'web',
          reason: {
            kind: 'topology',
            rule: 'service-topology',
            relation: 'caller',
            path: ['web', 'checkout'],
          },
        },
      },
    ]);
    // A critical signal that joins by topology still raises the incident as a one-signal rule would.
    expect(target.escalations).toEqual([{ id: 'inc_near', severity: 'SEV2' }]);
    expect([...joined.values()]).toEqual([['inc_near']]);
  });
});
