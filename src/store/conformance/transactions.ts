import { describe, expect, it } from 'vitest';
import type { StoreScope } from '../store.js';
import {
  candidateRow,
  changeInput,
  incidentRow,
  ruleInput,
  serviceInput,
  signalRow,
  T0,
} from './fixtures.js';
import { rejection, type StoreFactory, unique, useStore } from './harness.js';

/** One write through each repository that has one, so a rollback that misses any of them shows. */
async function writeEverywhere(scope: StoreScope) {
  const signal = signalRow();
  const incident = incidentRow();
  const candidate = candidateRow();
  const rule = unique('rule');
  const service = unique('svc');
  const key = unique('key');
  const hash = unique('hash');
  const topic = `arn:aws:sns:eu-west-1:1:${unique('topic')}`;
  await scope.signals.insertMany([signal]);
  await scope.incidents.insert(incident);
  await scope.incidents.attachSignalsMany([{ incidentId: incident.id, signalId: signal.id }], T0);
  await scope.incidents.addServicesMany([{ incidentId: incident.id, service }]);
  const { lastSeq, lastHash } = await scope.incidents.appendEvents(incident, [
    { type: 'created', principal: 'system', at: T0 },
  ]);
  await scope.incidents.update(incident.id, { last_event_seq: lastSeq, last_event_hash: lastHash });
  await scope.detections.writeCandidates([], [candidate]);
  await scope.rules.create(ruleInput(rule), { now: T0 });
  await scope.services.upsertMany([serviceInput(service)], T0);
  const { change } = await scope.changes.insert(changeInput({ service }), T0);
  await scope.tokens.create(unique('token'), hash, ['read'], T0);
  await scope.idempotency.put('alice', key, { route: 'r', requestHash: 'h', statusCode: 200, body: '' }, T0);
  await scope.sns.recordConfirmation({
    topicArn: topic,
    subscribeUrl: 'u',
    token: 't',
    messageId: 'm',
    receivedAt: T0,
  });
  return { signal, incident, candidate, rule, service, key, hash, topic, changeId: change.id };
}

type Written = Awaited<ReturnType<typeof writeEverywhere>>;

/** What a reader sees of each write; all undefined/empty when nothing was committed. */
async function readBack(scope: StoreScope, written: Written) {
  return {
    signal: await scope.signals.get(written.signal.id),
    incident: await scope.incidents.get(written.incident.id),
    attached: await scope.incidents.signalIds(written.incident.id),
    events: await scope.incidents.events(written.incident.id),
    candidate: await scope.db
      .selectFrom('candidates')
      .selectAll()
      .where('id', '=', written.candidate.id)
      .executeTakeFirst(),
    rule: await scope.rules.get(written.rule),
    service: await scope.services.get(written.service),
    change: await scope.changes.get(written.changeId),
    token: await scope.tokens.findActiveByHash(written.hash),
    idempotency: await scope.idempotency.get('alice', written.key),
    sns: (await scope.sns.list()).filter((item) => item.topicArn === written.topic),
  };
}

const NOTHING = {
  signal: undefined,
  incident: undefined,
  attached: [],
  events: [],
  candidate: undefined,
  rule: undefined,
  service: undefined,
  change: undefined,
  token: undefined,
  idempotency: undefined,
  sns: [],
};

export function transactionSpecs(init: StoreFactory): void {
  describe('transactions', () => {
    const store = useStore(init);

    it('commits every write together and returns what the work returned', async () => {
      const written = await store().transaction(async (scope) => {
        const result = await writeEverywhere(scope);
        // Reads inside the transaction see its own writes.
        expect((await readBack(scope, result)).incident?.id).toBe(result.incident.id);
        return result;
      });

      const seen = await readBack(store(), written);
      expect(seen.signal?.id).toBe(written.signal.id);
      expect(seen.incident?.id).toBe(written.incident.id);
      expect(seen.attached).toEqual([written.signal.id]);
      expect(seen.events).toHaveLength(1);
      expect(seen.candidate?.id).toBe(written.candidate.id);
      expect(seen.rule?.name).toBe(written.rule);
      expect(seen.service?.name).toBe(written.service);
      expect(seen.change?.id).toBe(written.changeId);
      expect(seen.token).toBeDefined();
      expect(seen.idempotency).toBeDefined();
      expect(seen.sns).toHaveLength(1);
    });

    it('a throw inside the work rolls back every write and rejects with that error', async () => {
      const before = {
        signals: await store().signals.count(),
        incidents: await store().incidents.count(),
        rules: await store().rules.count(),
        tokens: await store().tokens.count(),
      };
      let written: Written | undefined;
      const failure = new Error('boom');

      const error = await rejection(
        store().transaction(async (scope) => {
          written = await writeEverywhere(scope);
          throw failure;
        }),
      );

      expect(error).toBe(failure);
      expect(await readBack(store(), written!)).toEqual(NOTHING);
      expect({
        signals: await store().signals.count(),
        incidents: await store().incidents.count(),
        rules: await store().rules.count(),
        tokens: await store().tokens.count(),
      }).toEqual(before);
    });

    it('a failing statement rolls back the writes before it', async () => {
      const existing = signalRow();
      await store().signals.insertMany([existing]);
      let written: Written | undefined;

      await rejection(
        store().transaction(async (scope) => {
          written = await writeEverywhere(scope);
          // Same open key as a committed firing signal: the database refuses it.
          await scope.signals.insertMany([signalRow({ dedup_key: existing.dedup_key })]);
        }),
      );

      expect(await readBack(store(), written!)).toEqual(NOTHING);
    });

    it('the store stays usable after a rolled-back transaction', async () => {
      await rejection(
        store().transaction(async (scope) => {
          await scope.signals.insertMany([signalRow()]);
          throw new Error('boom');
        }),
      );
      const row = signalRow();
      await store().transaction((scope) => scope.signals.insertMany([row]));
      expect((await store().signals.get(row.id))?.id).toBe(row.id);
    });
  });
}
