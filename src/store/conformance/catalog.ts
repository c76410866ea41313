import { describe, expect, it } from 'vitest';
import type { Change } from '../../domain/change.js';
import type { Service } from '../../domain/service.js';
import type { ChangeFilter } from '../repositories/catalog.js';
import { changeInput, serviceInput, T0 } from './fixtures.js';
import { type StoreFactory, unique, useStore } from './harness.js';

export function serviceSpecs(init: StoreFactory): void {
  describe('services', () => {
    const store = useStore(init);

    it('upsertMany reports created and updated names and round-trips every field', async () => {
      const [api, db] = [unique('api'), unique('db')];
      const first = await store().services.upsertMany(
        [
          serviceInput(api, {
            type: 'http',
            tier: 1,
            owner: 'team-a',
            lifecycle: 'production',
            customerFacing: true,
            description: 'the front door',
            dependsOn: [db],
            runbooks: [{ href: 'https://runbooks/api', text: 'api runbook' }, { href: 'https://x' }],
          }),
        ],
        T0,
      );
      expect(first).toEqual({ created: [api], updated: [] });
      expect(await store().services.get(api)).toEqual({
        name: api,
        kind: 'component',
        type: 'http',
        tier: 1,
        owner: 'team-a',
        lifecycle: 'production',
        customerFacing: true,
        description: 'the front door',
        dependsOn: [db],
        runbooks: [{ href: 'https://runbooks/api', text: 'api runbook' }, { href: 'https://x' }],
        createdAt: T0,
        updatedAt: T0,
      } satisfies Service);

      const second = await store().services.upsertMany(
        [serviceInput(api, { kind: 'resource', tier: 2 }), serviceInput(db)],
        T0 + 1000,
      );
      expect(second).toEqual({ created: [db], updated: [api] });
      // Optional fields left out of a re-upsert are cleared, and absent rather than null.
      expect(await store().services.get(api)).toEqual({
        name: api,
        kind: 'resource',
        tier: 2,
        customerFacing: false,
        dependsOn: [],
        runbooks: [],
        createdAt: T0,
        updatedAt: T0 + 1000,
      } satisfies Service);
      expect(await store().services.upsertMany([], T0)).toEqual({ created: [], updated: [] });
    });

    it('re-upsert replaces dependencies, drops self-dependencies and duplicates', async () => {
      const [svc, a, b, c] = [unique('svc'), unique('a'), unique('b'), unique('c')];
      await store().services.upsertMany([serviceInput(svc, { dependsOn: [a, b] })], T0);
      await store().services.upsertMany([serviceInput(svc, { dependsOn: [c, svc, c, b] })], T0 + 1);

      expect((await store().services.get(svc))?.dependsOn).toEqual([b, c].sort());
      const edges = (await store().services.edges()).filter((edge) => edge.service === svc);
      expect(edges).toEqual([b, c].sort().map((dependsOn) => ({ service: svc, dependsOn })));
    });

    it('list orders by name and includes each service’s dependencies', async () => {
      const prefix = unique('list');
      const [zed, alpha, mid] = [`${prefix}-z`, `${prefix}-a`, `${prefix}-m`];
      await store().services.upsertMany(
        [
          serviceInput(zed, { dependsOn: [alpha] }),
          serviceInput(alpha),
          serviceInput(mid, { dependsOn: [zed, alpha] }),
        ],
        T0,
      );
      const listed = (await store().services.list()).filter((service) => service.name.startsWith(prefix));
      expect(listed.map((service) => [service.name, service.dependsOn])).toEqual([
        [alpha, []],
        [mid, [alpha, zed]],
        [zed, [alpha]],
      ]);
    });

    it('edges lists every dependency sorted by service then target', async () => {
      const prefix = unique('edges');
      const [x, y] = [`${prefix}-x`, `${prefix}-y`];
      await store().services.upsertMany(
        [serviceInput(y, { dependsOn: [`${prefix}-b`, `${prefix}-a`] }), serviceInput(x, { dependsOn: [y] })],
        T0,
      );
      const edges = (await store().services.edges()).filter((edge) => edge.service.startsWith(prefix));
      expect(edges).toEqual([
        { service: x, dependsOn: y },
        { service: y, dependsOn: `${prefix}-a` },
        { service: y, dependsOn: `${prefix}-b` },
      ]);
    });

    it('remove deletes the service and its outgoing edges, and reports whether it existed', async () => {
      const [svc, target] = [unique('svc'), unique('target')];
      await store().services.upsertMany([serviceInput(svc, { dependsOn: [target] })], T0);

      expect(await store().services.remove(svc)).toBe(true);
      expect(await store().services.get(svc)).toBeUndefined();
      expect((await store().services.list()).map((service) => service.name)).not.toContain(svc);
      expect((await store().services.edges()).filter((edge) => edge.service === svc)).toEqual([]);
      expect(await store().services.remove(svc)).toBe(false);
      expect(await store().services.get(unique('missing'))).toBeUndefined();
    });
  });
}

export function changeSpecs(init: StoreFactory): void {
  describe('changes', () => {
    const store = useStore(init);

    it('insert stores a change and get returns it', async () => {
      const input = changeInput({
        kind: 'feature_flag',
        service: unique('svc'),
        environment: 'staging',
        versionFrom: 'v1',
        versionTo: 'v2',
        author: 'alice',
        summary: 'flip "new-checkout"',
        startedAt: T0,
        finishedAt: T0 + 60_000,
        links: [{ href: 'https://ci/1', text: 'pipeline' }],
        externalId: unique('ext'),
        source: 'github',
      });
      const { change, created } = await store().changes.insert(input, T0 + 5);

      expect(created).toBe(true);
      expect(change).toEqual({
        id: expect.stringMatching(/^chg_[0-9a-z]{26}$/),
        kind: 'feature_flag',
        service: input.service,
        environment: 'staging',
        versionFrom: 'v1',
        versionTo: 'v2',
        author: 'alice',
        summary: 'flip "new-checkout"',
        startedAt: T0,
        finishedAt: T0 + 60_000,
        links: [{ href: 'https://ci/1', text: 'pipeline' }],
        externalId: input.externalId!,
        source: 'github',
        createdAt: T0 + 5,
      } satisfies Change);
      expect(await store().changes.get(change.id)).toEqual(change);
      expect(await store().changes.get('chg_unknown')).toBeUndefined();
    });

    it('insert maps omitted optional fields to null', async () => {
      const { change } = await store().changes.insert(changeInput(), T0);
      expect(await store().changes.get(change.id)).toMatchObject({
        versionFrom: null,
        versionTo: null,
        author: null,
        finishedAt: null,
        externalId: null,
        links: [],
      });
    });

    it('a re-delivered change (same source and external id) returns the stored one', async () => {
      const externalId = unique('ext');
      const service = unique('svc');
      const first = await store().changes.insert(changeInput({ service, externalId, source: 'argo' }), T0);
      const again = await store().changes.insert(
        changeInput({ service, externalId, source: 'argo', summary: 'a different summary' }),
        T0 + 1,
      );

      expect(again).toEqual({ change: first.change, created: false });
      expect(await store().changes.list({ services: [service] })).toHaveLength(1);
    });

    it('the same external id from another source, or no external id, is a new change', async () => {
      const externalId = unique('ext');
      const service = unique('svc');
      const argo = await store().changes.insert(changeInput({ service, externalId, source: 'argo' }), T0);
      const github = await store().changes.insert(changeInput({ service, externalId, source: 'github' }), T0);
      const plainA = await store().changes.insert(changeInput({ service }), T0);
      const plainB = await store().changes.insert(changeInput({ service }), T0);

      expect([argo.created, github.created, plainA.created, plainB.created]).toEqual([
        true,
        true,
        true,
        true,
      ]);
      expect(new Set([argo, github, plainA, plainB].map((result) => result.change.id)).size).toBe(4);
      expect(github.change.externalId).toBe(externalId);
    });

    it('an external id containing ":" round-trips', async () => {
      const externalId = `${unique('repo')}:refs/heads/main:42`;
      const { change } = await store().changes.insert(changeInput({ externalId, source: 'github' }), T0);
      expect((await store().changes.get(change.id))?.externalId).toBe(externalId);
      expect((await store().changes.insert(changeInput({ externalId, source: 'github' }), T0)).created).toBe(
        false,
      );
    });

    it('sources containing ":" do not collide with other sources', async () => {
      const suffix = unique('x');
      await store().changes.insert(changeInput({ source: `ci:${suffix}`, externalId: '1' }), T0);
      const other = await store().changes.insert(
        changeInput({ source: 'ci', externalId: `${suffix}:1` }),
        T0,
      );
      expect(other.created).toBe(true);
    });

    it('list filters by services and a started-at window, newest first, with a limit', async () => {
      const [api, db, web] = [unique('api'), unique('db'), unique('web')];
      const inserted: Change[] = [];
      for (const [service, startedAt] of [
        [api, T0 + 1000],
        [db, T0 + 2000],
        [api, T0 + 3000],
        [web, T0 + 3000],
        [db, T0 + 4000],
      ] as const) {
        inserted.push((await store().changes.insert(changeInput({ service, startedAt }), T0)).change);
      }
      const [a1, d2, a3, w3, d4] = inserted as [Change, Change, Change, Change, Change];
      const ids = async (filter: ChangeFilter) =>
        (await store().changes.list(filter)).map((change) => change.id);
      const all = [api, db, web];
      const tie = [a3.id, w3.id].sort().reverse();

      expect(await ids({ services: all })).toEqual([d4.id, ...tie, d2.id, a1.id]);
      expect(await ids({ services: [api] })).toEqual([a3.id, a1.id]);
      expect(await ids({ services: [api, db] })).toEqual([d4.id, a3.id, d2.id, a1.id]);
      // An empty service list means "no services", not "all services".
      expect(await ids({ services: [] })).toEqual([]);
      expect(await ids({ services: all, since: T0 + 3000 })).toEqual([d4.id, ...tie]);
      expect(await ids({ services: all, since: T0 + 1500, until: T0 + 2500 })).toEqual([d2.id]);
      expect(await ids({ services: all, until: T0 + 1500 })).toEqual([a1.id]);
      expect(await ids({ services: all, limit: 2 })).toEqual([d4.id, tie[0]]);
    });

    it('list without filters includes every service', async () => {
      const { change } = await store().changes.insert(
        changeInput({ service: unique('svc'), startedAt: T0 + 10_000_000 }),
        T0,
      );
      const listed = await store().changes.list({ since: T0 + 10_000_000 });
      expect(listed.map((item) => item.id)).toContain(change.id);
    });
  });
}
