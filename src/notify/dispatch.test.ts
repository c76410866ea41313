import { describe, expect, it } from 'vitest';
import type { Incident } from '../domain/incident.js';
import { routeMatches } from '../domain/notification.js';
import { type Delivery, notifiable } from '../store/repositories/notifications.js';
import { decide } from './dispatch.js';

const incident = (overrides: Partial<Incident> = {}): Incident =>
  ({
    id: 'inc_1',
    title: 'checkout-api: error rate',
    severity: 'SEV2',
    status: 'OPEN',
    services: ['checkout-api', 'payments'],
    environment: 'production',
    rootService: 'payments',
    mergedInto: null,
    resolvedAt: null,
    startedAt: 0,
    ...overrides,
  }) as Incident;

const sent = (event: Delivery['event'], told: Partial<Incident> = {}, status: Delivery['status'] = 'sent') =>
  ({ event, status, notice: { incident: incident(told) } }) as unknown as Delivery;

describe('which incident events a receiver hears of', () => {
  it('maps the chain’s events to notifications', () => {
    expect(notifiable({ type: 'created', data: {} })).toBe('opened');
    expect(notifiable({ type: 'reopened', data: {} })).toBe('opened');
    expect(notifiable({ type: 'status_changed', data: { from: 'RESOLVED', to: 'OPEN' } })).toBe('opened');
    expect(
      notifiable({ type: 'status_changed', data: { from: 'OPEN', to: 'ACKNOWLEDGED' } }),
    ).toBeUndefined();
    expect(notifiable({ type: 'status_changed', data: { from: 'MITIGATED', to: 'RESOLVED' } })).toBe(
      'resolved',
    );
    expect(notifiable({ type: 'merged_into', data: {} })).toBe('resolved');
    expect(notifiable({ type: 'severity_changed', data: { from: 'SEV3', to: 'SEV1' } })).toBe(
      'severity_raised',
    );
    // Lowered is not material for a pager.
    expect(notifiable({ type: 'severity_changed', data: { from: 'SEV1', to: 'SEV3' } })).toBeUndefined();
    expect(notifiable({ type: 'origin_moved', data: {} })).toBe('origin_moved');
    expect(notifiable({ type: 'investigation_completed', data: {} })).toBe('pull');
    expect(notifiable({ type: 'signal_attached', data: {} })).toBeUndefined();
    expect(notifiable({ type: 'note_added', data: {} })).toBeUndefined();
  });
});

describe('route matching', () => {
  const subject = {
    services: ['checkout-api', 'payments'],
    severity: 'SEV2' as const,
    environment: 'production',
    signalLabels: [{ team: 'payments', alertname: 'HighErrorRate' }, { team: 'edge' }] as Record<
      string,
      string
    >[],
  };
  it('selects by any service, listed severity, environment and labels on one signal', () => {
    expect(routeMatches({}, subject)).toBe(true);
    expect(routeMatches({ services: ['payments'] }, subject)).toBe(true);
    expect(routeMatches({ services: ['search'] }, subject)).toBe(false);
    expect(routeMatches({ severities: ['SEV1', 'SEV2'] }, subject)).toBe(true);
    expect(routeMatches({ severities: ['SEV1'] }, subject)).toBe(false);
    expect(routeMatches({ environments: ['staging'] }, subject)).toBe(false);
    expect(routeMatches({ labels: { team: 'payments', alertname: 'HighErrorRate' } }, subject)).toBe(true);
    // Both pairs must be on the same signal.
    expect(routeMatches({ labels: { team: 'edge', alertname: 'HighErrorRate' } }, subject)).toBe(false);
  });
});

describe('what a channel is told', () => {
  it('announces an active incident once', () => {
    expect(decide('opened', incident(), [], false)).toEqual({ event: 'opened' });
    expect(decide('opened', incident(), [sent('opened')], false)).toEqual({ skip: 'already announced' });
    expect(decide('opened', incident({ status: 'RESOLVED' }), [], false)).toMatchObject({
      skip: expect.any(String),
    });
    // Announced again after it was resolved and re-opened.
    expect(decide('opened', incident(), [sent('opened'), sent('resolved')], false)).toEqual({
      event: 'opened',
    });
  });

  it('tells of a resolution only a channel that heard of the incident', () => {
    expect(decide('resolved', incident({ status: 'RESOLVED' }), [], false)).toEqual({
      skip: 'never announced',
    });
    expect(decide('resolved', incident({ status: 'RESOLVED' }), [sent('opened')], false)).toEqual({
      event: 'resolved',
    });
    // A first message that was skipped does not count as heard.
    expect(
      decide('resolved', incident({ status: 'RESOLVED' }), [sent('opened', {}, 'skipped')], false),
    ).toEqual({
      skip: 'never announced',
    });
  });

  it('re-notifies on material change only: more severe than last told, or another origin', () => {
    const history = [sent('opened', { severity: 'SEV2', rootService: 'payments' })];
    expect(decide('severity_raised', incident({ severity: 'SEV1' }), history, false)).toEqual({
      event: 'severity_raised',
      previous: { severity: 'SEV2' },
    });
    expect(decide('severity_raised', incident({ severity: 'SEV2' }), history, false)).toMatchObject({
      skip: expect.any(String),
    });
    expect(decide('origin_moved', incident({ rootService: 'ledger' }), history, false)).toEqual({
      event: 'origin_moved',
      previous: { rootService: 'payments' },
    });
    expect(decide('origin_moved', incident({ rootService: 'payments' }), history, false)).toMatchObject({
      skip: expect.any(String),
    });
  });

  it('announces an incident that newly matches, unless its first message is still due', () => {
    expect(decide('severity_raised', incident({ severity: 'SEV1' }), [], false)).toEqual({ event: 'opened' });
    expect(decide('severity_raised', incident({ severity: 'SEV1' }), [], true)).toEqual({
      skip: 'the first message is still due',
    });
  });
});
