import { describe, expect, it } from 'vitest';
import type { ApiToken } from '../repositories/access.js';
import { T0 } from './fixtures.js';
import { expectUniqueViolation, type StoreFactory, unique, useStore, withFreshStore } from './harness.js';

export function tokenSpecs(init: StoreFactory): void {
  describe('tokens', () => {
    const store = useStore(init);

    it('create stores a token with de-duplicated scopes that findActiveByHash finds', async () => {
      const hash = unique('hash');
      const name = unique('ci');
      const created = await store().tokens.create(name, hash, ['read', 'ingest', 'read'], T0);

      expect(created).toEqual({
        id: expect.stringMatching(/^tok_[0-9a-z]{26}$/),
        name,
        scopes: ['read', 'ingest'],
        createdAt: T0,
        lastUsedAt: null,
        revokedAt: null,
      } satisfies ApiToken);
      expect(await store().tokens.findActiveByHash(hash)).toEqual(created);
      expect(await store().tokens.findActiveByHash(unique('hash'))).toBeUndefined();
    });

    it('a second token with the same hash is a unique violation', async () => {
      const hash = unique('hash');
      await store().tokens.create(unique('a'), hash, ['read'], T0);
      await expectUniqueViolation(store().tokens.create(unique('b'), hash, ['admin'], T0));
    });

    it('revoke by id hides the token from findActiveByHash and reports how many it revoked', async () => {
      const hash = unique('hash');
      const created = await store().tokens.create(unique('ci'), hash, ['read'], T0);

      expect(await store().tokens.revoke(created.id, T0 + 10)).toBe(1);
      expect(await store().tokens.findActiveByHash(hash)).toBeUndefined();
      expect(await store().tokens.revoke(created.id, T0 + 20)).toBe(0);
      const listed = (await store().tokens.list()).find((token) => token.id === created.id);
      // The first revocation time stands; revoking again does not move it.
      expect(listed).toEqual({ ...created, revokedAt: T0 + 10 });
    });

    it('activeIds keeps the ids of tokens that exist and are not revoked', async () => {
      const kept = await store().tokens.create(unique('kept'), unique('hash'), ['read'], T0);
      const revoked = await store().tokens.create(unique('gone'), unique('hash'), ['read'], T0);
      await store().tokens.revoke(revoked.id, T0 + 1);
      expect(await store().tokens.activeIds([kept.id, revoked.id, 'tok_missing'])).toEqual(
        new Set([kept.id]),
      );
      expect(await store().tokens.activeIds([])).toEqual(new Set());
    });

    it('revoke by name revokes every active token of that name', async () => {
      const name = unique('shared');
      const [first, second] = [unique('hash'), unique('hash')];
      await store().tokens.create(name, first, ['read'], T0);
      await store().tokens.create(name, second, ['ingest'], T0 + 1);
      const bystander = unique('hash');
      await store().tokens.create(unique('other'), bystander, ['read'], T0);

      expect(await store().tokens.revoke(name, T0 + 5)).toBe(2);
      expect(await store().tokens.findActiveByHash(first)).toBeUndefined();
      expect(await store().tokens.findActiveByHash(second)).toBeUndefined();
      expect(await store().tokens.findActiveByHash(bystander)).toBeDefined();
      expect(await store().tokens.revoke(unique('nobody'), T0 + 5)).toBe(0);
    });

    it('list returns tokens oldest first, revoked ones included, and count counts them all', async () => {
      await withFreshStore(init, async (fresh) => {
        expect(await fresh.tokens.count()).toBe(0);
        const late = await fresh.tokens.create('late', 'hash-late', ['admin'], T0 + 100);
        const early = await fresh.tokens.create('early', 'hash-early', ['read'], T0);
        await fresh.tokens.revoke('early', T0 + 200);

        expect(await fresh.tokens.list()).toEqual([{ ...early, revokedAt: T0 + 200 }, late]);
        expect(await fresh.tokens.count()).toBe(2);
      });
    });
  });
}

export function idempotencySpecs(init: StoreFactory): void {
  describe('idempotency', () => {
    const store = useStore(init);
    const response = (body: string) => ({
      route: 'POST /v1/signals',
      requestHash: 'h1',
      statusCode: 202,
      body,
    });

    it('put stores the first response; a second put for the same key keeps it and returns false', async () => {
      const key = unique('key');
      expect(await store().idempotency.get('alice', key)).toBeUndefined();

      expect(await store().idempotency.put('alice', key, response('{"first":true}'), T0)).toBe(true);
      expect(await store().idempotency.get('alice', key)).toEqual(response('{"first":true}'));

      const second = { route: 'POST /v1/changes', requestHash: 'h2', statusCode: 201, body: '{}' };
      expect(await store().idempotency.put('alice', key, second, T0 + 1)).toBe(false);
      expect(await store().idempotency.get('alice', key)).toEqual(response('{"first":true}'));
    });

    it('keys are scoped to the principal', async () => {
      const key = unique('key');
      expect(await store().idempotency.put('alice', key, response('alice'), T0)).toBe(true);
      expect(await store().idempotency.put('bob', key, response('bob'), T0)).toBe(true);
      expect((await store().idempotency.get('alice', key))?.body).toBe('alice');
      expect((await store().idempotency.get('bob', key))?.body).toBe('bob');
      expect(await store().idempotency.get('carol', key)).toBeUndefined();
    });

    it('purgeOlderThan deletes entries created before the cutoff and counts them', async () => {
      await withFreshStore(init, async (fresh) => {
        await fresh.idempotency.put('alice', 'old', response('old'), T0 - 1);
        await fresh.idempotency.put('alice', 'edge', response('edge'), T0);
        await fresh.idempotency.put('bob', 'new', response('new'), T0 + 1);

        expect(await fresh.idempotency.purgeOlderThan(T0)).toBe(1);
        expect(await fresh.idempotency.get('alice', 'old')).toBeUndefined();
        expect(await fresh.idempotency.get('alice', 'edge')).toBeDefined();
        expect(await fresh.idempotency.get('bob', 'new')).toBeDefined();
        expect(await fresh.idempotency.purgeOlderThan(T0)).toBe(0);
        // A purged key is free again.
        expect(await fresh.idempotency.put('alice', 'old', response('again'), T0 + 2)).toBe(true);
      });
    });
  });
}

export function auditSpecs(init: StoreFactory): void {
  describe('audit', () => {
    it('list returns entries newest first with their detail, filtered by since and limited', async () => {
      await withFreshStore(init, async (fresh) => {
        const entries = [
          { principal: 'alice', action: 'rule.create', target: 'rule_1', at: T0, detail: { name: 'r' } },
          { principal: 'bob', action: 'token.revoke', target: null, at: T0 + 20, detail: {} },
          {
            principal: 'carol',
            action: 'incident.resolve',
            target: 'inc_1',
            at: T0 + 10,
            detail: { nested: { list: [1, 'two'] }, quote: '"' },
          },
          // Same instant as carol's: the tie is broken by id, and ids grow with insertion order.
          { principal: 'dave', action: 'incident.note', target: 'inc_1', at: T0 + 10, detail: {} },
        ];
        for (const entry of entries) await fresh.audit.record(entry);
        const principals = async (options?: { limit?: number; since?: number }) =>
          (await fresh.audit.list(options)).map((entry) => entry.principal);

        expect(await principals()).toEqual(['bob', 'dave', 'carol', 'alice']);
        expect(await principals({ since: T0 + 10 })).toEqual(['bob', 'dave', 'carol']);
        expect(await principals({ limit: 1 })).toEqual(['bob']);
        expect(await principals({ since: T0 + 21 })).toEqual([]);
        const carol = (await fresh.audit.list()).find((entry) => entry.principal === 'carol');
        expect(carol).toEqual({ id: expect.any(String), ...entries[2] });
        const bob = (await fresh.audit.list()).find((entry) => entry.principal === 'bob');
        expect(bob?.target).toBeNull();
      });
    });

    it('list returns at most 100 entries by default', async () => {
      await withFreshStore(init, async (fresh) => {
        for (let index = 0; index < 101; index += 1) {
          await fresh.audit.record({ principal: 'p', action: 'a', target: null, at: T0 + index, detail: {} });
        }
        const listed = await fresh.audit.list();
        expect(listed).toHaveLength(100);
        expect(listed[0]?.at).toBe(T0 + 100);
      });
    });
  });
}
