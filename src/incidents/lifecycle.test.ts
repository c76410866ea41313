import { describe, expect, it } from 'vitest';
import { OpxError } from '../domain/errors.js';
import { openIncidentRow } from '../store/repositories/incidents.js';
import { planTransition } from './lifecycle.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const row = (status = 'OPEN') => ({
  ...openIncidentRow({
    id: 'inc_1',
    title: 'checkout 5xx',
    severity: 'SEV2',
    environment: 'prod',
    correlationKey: 'critical-signal|checkout|prod',
    ruleId: null,
    startedAt: T0,
    at: T0,
  }),
  status,
});
const by = (at: number, extra: object = {}) => ({ principal: 'alice', at, ...extra });

describe('planTransition', () => {
  it('keeps the first acknowledgement time, and sets it on mitigation when nobody acknowledged', () => {
    const acknowledged = planTransition(row('ADVISORY_READY'), 'ACKNOWLEDGED', by(T0 + 1000));
    expect(acknowledged.values).toMatchObject({ status: 'ACKNOWLEDGED', acknowledged_at: T0 + 1000 });
    const mitigated = planTransition(row('INVESTIGATING'), 'MITIGATED', by(T0 + 2000));
    expect(mitigated.values).toMatchObject({ mitigated_at: T0 + 2000, acknowledged_at: T0 + 2000 });
    const later = planTransition({ ...row('ACKNOWLEDGED'), acknowledged_at: T0 }, 'MITIGATED', by(T0 + 3000));
    expect(later.values.acknowledged_at).toBe(T0);
  });

  it('frees the correlation key on RESOLVED and takes it back on a re-open', () => {
    const resolved = planTransition(
      row('MITIGATED'),
      'RESOLVED',
      by(T0 + 5000, { rootCause: 'bad deploy', resolution: 'rolled back' }),
    );
    expect(resolved.values).toMatchObject({
      status: 'RESOLVED',
      resolved_at: T0 + 5000,
      active_key: null,
      root_cause: 'bad deploy',
      resolution: 'rolled back',
    });
    expect(resolved.event).toEqual({
      type: 'status_changed',
      principal: 'alice',
      at: T0 + 5000,
      data: { from: 'MITIGATED', to: 'RESOLVED', rootCause: 'bad deploy', resolution: 'rolled back' },
    });
    const reopened = planTransition({ ...row('RESOLVED'), active_key: null }, 'OPEN', by(T0 + 6000));
    expect(reopened.values).toMatchObject({
      status: 'OPEN',
      resolved_at: null,
      active_key: 'critical-signal|checkout|prod',
    });
  });

  it('refuses a move the lifecycle does not allow, naming both states', () => {
    let thrown: unknown;
    try {
      planTransition(row('CLOSED'), 'ACKNOWLEDGED', by(T0));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(OpxError);
    expect(thrown).toMatchObject({
      code: 'illegal_transition',
      details: { from: 'CLOSED', to: 'ACKNOWLEDGED' },
    });
  });
});
