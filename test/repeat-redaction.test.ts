import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SignalDraft } from '../src/domain/signal.js';
import { RepeatRedaction } from '../src/ingest/repeats.js';
import { BACKENDS, type TestRuntime, testRuntime } from './support.js';

const EMAIL = 'jane.doe@example.com';
const T0 = Date.parse('2026-12-07T10:00:00Z');

/** An Alertmanager-style alert whose labels, annotations and payload carry an address. */
function alert(overrides: Partial<SignalDraft> = {}, endsAt = T0 + 240_000): SignalDraft {
  return {
    source: 'alertmanager',
    fingerprint: 'a1b2c3d4e5f60718',
    status: 'firing',
    severity: 'warning',
    service: 'checkout-service',
    environment: 'prod',
    title: 'Disk filling on db-1',
    labels: { alertname: 'DiskFilling', owner: EMAIL },
    annotations: { summary: `ask ${EMAIL} before pruning` },
    links: [],
    startsAt: T0,
    raw: { labels: { alertname: 'DiskFilling', owner: EMAIL }, endsAt: new Date(endsAt).toISOString() },
    ...overrides,
  };
}

describe.each(BACKENDS)('repeats of open signals on %s', (backend) => {
  let test: TestRuntime;
  beforeEach(async () => {
    test = await testRuntime(backend);
  });
  afterEach(async () => {
    await test.cleanup();
  });

  const ingest = (drafts: SignalDraft[], now: number) =>
    test.runtime.writes.run((scope) => test.runtime.ingest.ingestInScope(scope, drafts, 'test', now));
  const violations = async () =>
    Number(
      (
        await test.runtime.store.db
          .selectFrom('guardrail_violations')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('direction', '=', 'ingest')
          .executeTakeFirstOrThrow()
      ).n,
    );
  const scans = () => vi.spyOn(test.runtime.ingest.redactor!, 'signal');

  it('is not scanned again: a counter, a last-seen time and the severity change, the stored text stays redacted', async () => {
    const scanned = scans();
    const first = await ingest([alert()], T0);
    const id = first.signals[0]!.id!;
    expect(first.signals[0]!.action).toBe('created');
    expect(scanned).toHaveBeenCalledTimes(1);
    const recorded = await violations();
    expect(recorded).toBeGreaterThan(0);

    // Prometheus re-sends with a later endsAt; the rule's severity went up.
    const again = await ingest([alert({ severity: 'critical' }, T0 + 300_000)], T0 + 60_000);
    expect(again.signals[0]).toMatchObject({ id, action: 'repeated' });
    expect(scanned).toHaveBeenCalledTimes(1);
    expect(await violations()).toBe(recorded);

    const signal = await test.runtime.store.signals.get(id);
    expect(signal).toMatchObject({
      occurrences: 2,
      lastSeenAt: T0 + 60_000,
      severity: 'critical',
      title: 'Disk filling on db-1',
      service: 'checkout-service',
    });
    expect(JSON.stringify(signal)).not.toContain(EMAIL);
    expect(signal!.labels.owner).toMatch(/^<EMAIL_[0-9a-f]{10}>$/);
  });

  it('a changed title is redacted in full before it replaces the stored one', async () => {
    const first = await ingest([alert()], T0);
    const scanned = scans();
    const again = await ingest([alert({ title: `Disk filling on db-1, page ${EMAIL}` })], T0 + 60_000);
    expect(again.signals[0]).toMatchObject({ id: first.signals[0]!.id, action: 'repeated' });
    expect(scanned).toHaveBeenCalledTimes(1);
    const signal = await test.runtime.store.signals.get(first.signals[0]!.id!);
    expect(signal!.title).toMatch(/^Disk filling on db-1, page <EMAIL_[0-9a-f]{10}>$/);
  });

  it('a resolve and a re-fire in one batch: the re-fire opens a signal with all its text', async () => {
    await ingest([alert()], T0);
    const recorded = await violations();
    const batch = await ingest(
      [alert({ status: 'resolved', endsAt: T0 + 120_000 }), alert({ startsAt: T0 + 180_000 })],
      T0 + 200_000,
    );
    expect(batch.signals.map((signal) => signal.action)).toEqual(['resolved', 'created']);
    const refired = await test.runtime.store.signals.get(batch.signals[1]!.id!);
    expect(refired).toMatchObject({ status: 'firing', service: 'checkout-service', environment: 'prod' });
    expect(refired!.labels.alertname).toBe('DiskFilling');
    expect(refired!.labels.owner).toMatch(/^<EMAIL_[0-9a-f]{10}>$/);
    // The re-fire's text was stored, so what was replaced in it is on record again.
    expect(await violations()).toBeGreaterThan(recorded);
  });

  it('a re-fire after its signal resolved in an earlier batch is redacted in full and stored whole', async () => {
    await ingest([alert()], T0);
    const resolved = await ingest([alert({ status: 'resolved', endsAt: T0 + 120_000 })], T0 + 120_000);
    expect(resolved.signals[0]!.action).toBe('resolved');
    const scanned = scans();
    const refired = await ingest([alert({ startsAt: T0 + 300_000 })], T0 + 300_000);
    expect(refired.signals[0]!.action).toBe('created');
    expect(scanned).toHaveBeenCalledTimes(1);
    const signal = await test.runtime.store.signals.get(refired.signals[0]!.id!);
    expect(signal!.annotations.summary).toMatch(/^ask <EMAIL_[0-9a-f]{10}> before pruning$/);
  });

  it('a resolve re-sent after its signal resolved is not scanned again and counts on the stored resolve', async () => {
    const first = await ingest([alert()], T0);
    const resolve = alert({ status: 'resolved', endsAt: T0 + 120_000 });
    await ingest([resolve], T0 + 120_000);
    const recorded = await violations();
    const scanned = scans();
    // Prometheus re-sends a resolve for a while after it resolves.
    const again = await ingest([resolve, resolve], T0 + 180_000);
    expect(again.signals).toMatchObject([
      { id: first.signals[0]!.id, action: 'repeated', status: 'resolved' },
      { id: first.signals[0]!.id, action: 'repeated', status: 'resolved' },
    ]);
    expect(scanned).not.toHaveBeenCalled();
    expect(await violations()).toBe(recorded);
    const signal = await test.runtime.store.signals.get(first.signals[0]!.id!);
    expect(signal).toMatchObject({ status: 'resolved', occurrences: 3, lastSeenAt: T0 + 180_000 });
    expect(signal!.labels.owner).toMatch(/^<EMAIL_[0-9a-f]{10}>$/);
  });

  it('a remembered resolve that finds nothing to close or count on is restored and stored whole', async () => {
    await ingest([alert()], T0);
    await ingest([alert({ status: 'resolved', endsAt: T0 + 120_000 })], T0 + 120_000);
    const scanned = scans();
    // The same alert's resolve for an activation OPX never stored (another startsAt): a row of its own.
    const other = await ingest(
      [alert({ status: 'resolved', startsAt: T0 + 400_000, endsAt: T0 + 460_000 })],
      T0 + 500_000,
    );
    expect(other.signals[0]).toMatchObject({ action: 'created', status: 'resolved' });
    expect(scanned).toHaveBeenCalledTimes(1);
    const signal = await test.runtime.store.signals.get(other.signals[0]!.id!);
    expect(signal).toMatchObject({ service: 'checkout-service', environment: 'prod', status: 'resolved' });
    expect(signal!.annotations.summary).toMatch(/^ask <EMAIL_[0-9a-f]{10}> before pruning$/);
  });

  it('forgets the oldest alert past its capacity, which is then redacted in full again', async () => {
    const redactor = test.runtime.ingest.redactor!;
    const repeats = new RepeatRedaction(redactor, 1);
    const scanned = scans();
    const other = alert({ fingerprint: 'ffff000011112222', title: 'Disk filling on db-2' });
    await ingest([alert(), other], T0);
    const redact = (drafts: SignalDraft[]) =>
      test.runtime.writes.run((scope) => repeats.redact(scope, drafts));
    await redact([alert(), other]);
    expect(scanned).toHaveBeenCalledTimes(4); // two by the runtime's own, two here: both new to this one
    await redact([other]);
    expect(scanned).toHaveBeenCalledTimes(4); // the newest is remembered
    await redact([alert()]);
    expect(scanned).toHaveBeenCalledTimes(5); // the oldest was forgotten
  });
});
