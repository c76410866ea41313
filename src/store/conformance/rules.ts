import { describe, expect, it } from 'vitest';
import { OpxError } from '../../domain/errors.js';
import type { CorrelationRule } from '../../domain/rule.js';
import { ruleInput, T0 } from './fixtures.js';
import { rejection, type StoreFactory, unique, useStore, withFreshStore } from './harness.js';

export function ruleSpecs(init: StoreFactory): void {
  describe('rules', () => {
    const store = useStore(init);

    it('create returns the stored rule, and get finds it by id and by name', async () => {
      const name = unique('rule');
      const input = ruleInput(name, { threshold: { kind: 'distinct_services', value: 2 } });
      const created = await store().rules.create(input, { now: T0 });

      expect(created).toEqual({
        ...input,
        id: expect.stringMatching(/^rule_[0-9a-z]{26}$/),
        version: 1,
        builtIn: false,
        createdAt: T0,
        updatedAt: T0,
      } satisfies CorrelationRule);
      expect(await store().rules.get(created.id)).toEqual(created);
      expect(await store().rules.get(name)).toEqual(created);
      expect(await store().rules.get(unique('missing'))).toBeUndefined();
    });

    it('create keeps the built-in flag', async () => {
      const created = await store().rules.create(ruleInput(unique('rule')), { builtIn: true, now: T0 });
      expect(created.builtIn).toBe(true);
      expect((await store().rules.get(created.id))?.builtIn).toBe(true);
    });

    it('create with a name already in use is a conflict and writes nothing', async () => {
      const name = unique('rule');
      await store().rules.create(ruleInput(name), { now: T0 });
      const before = await store().rules.count();

      const error = await rejection(store().rules.create(ruleInput(name, { priority: 1 }), { now: T0 }));
      expect(error).toBeInstanceOf(OpxError);
      expect(error).toMatchObject({ code: 'conflict', path: 'name' });
      expect(await store().rules.count()).toBe(before);
      expect((await store().rules.get(name))?.priority).toBe(100);
    });

    it('list orders by priority then name and leaves out disabled rules unless asked', async () => {
      const prefix = unique('order');
      const late = await store().rules.create(ruleInput(`${prefix}-a`, { priority: 200 }), { now: T0 });
      const nameB = await store().rules.create(ruleInput(`${prefix}-c`, { priority: 10 }), { now: T0 });
      const nameA = await store().rules.create(ruleInput(`${prefix}-b`, { priority: 10 }), { now: T0 });
      const disabled = await store().rules.create(ruleInput(`${prefix}-d`, { priority: 5, enabled: false }), {
        now: T0,
      });
      const removed = await store().rules.create(ruleInput(`${prefix}-e`, { priority: 1 }), { now: T0 });
      await store().rules.remove(removed.id, T0 + 1);
      const names = (rules: CorrelationRule[]) =>
        rules.filter((rule) => rule.name.startsWith(prefix)).map((rule) => rule.name);

      expect(names(await store().rules.list())).toEqual([nameA.name, nameB.name, late.name]);
      expect(names(await store().rules.list({ includeDisabled: true }))).toEqual([
        disabled.name,
        nameA.name,
        nameB.name,
        late.name,
      ]);
      const listed = (await store().rules.list()).find((rule) => rule.id === nameA.id);
      expect(listed).toEqual(nameA);
    });

    it('update replaces the definition, bumps the version and keeps the creation time', async () => {
      const name = unique('rule');
      const created = await store().rules.create(ruleInput(name), { now: T0 });
      const input = ruleInput(name, {
        description: 'rewritten',
        enabled: false,
        priority: 7,
        matchers: [{ field: 'title', op: '=~', value: '^5\\d\\d' }],
        groupBy: ['service'],
        windowSeconds: 60,
        threshold: { kind: 'count', value: 1 },
        severity: 'SEV1',
        titleTemplate: 'rewritten {{service}}',
      });
      const updated = await store().rules.update(created.id, input, T0 + 5000);

      expect(updated).toEqual({
        ...input,
        id: created.id,
        version: 2,
        builtIn: false,
        createdAt: T0,
        updatedAt: T0 + 5000,
      } satisfies CorrelationRule);
      expect(await store().rules.get(name)).toEqual(updated);
      expect((await store().rules.update(name, input, T0 + 6000)).version).toBe(3);
    });

    it('update keeps updatedAt increasing even when the clock has not moved', async () => {
      const name = unique('rule');
      await store().rules.create(ruleInput(name), { now: T0 });
      const first = await store().rules.update(name, ruleInput(name), T0);
      const second = await store().rules.update(name, ruleInput(name), T0 - 1000);
      expect([first.updatedAt, second.updatedAt]).toEqual([T0 + 1, T0 + 2]);
    });

    it('update can rename a rule, but not onto a name in use', async () => {
      const oldName = unique('rule');
      const newName = unique('rule');
      const taken = unique('rule');
      const created = await store().rules.create(ruleInput(oldName), { now: T0 });
      await store().rules.create(ruleInput(taken), { now: T0 });

      const renamed = await store().rules.update(oldName, ruleInput(newName), T0 + 1);
      expect(renamed).toMatchObject({ id: created.id, name: newName, version: 2 });
      expect(await store().rules.get(oldName)).toBeUndefined();
      expect((await store().rules.get(newName))?.id).toBe(created.id);

      const error = await rejection(store().rules.update(newName, ruleInput(taken), T0 + 2));
      expect(error).toBeInstanceOf(OpxError);
      expect(error).toMatchObject({ code: 'conflict' });
      expect((await store().rules.get(created.id))?.name).toBe(newName);
    });

    it('update can rename a rule onto the name of a removed rule', async () => {
      const name = unique('rule');
      const removedName = unique('rule');
      await store().rules.create(ruleInput(name), { now: T0 });
      await store().rules.create(ruleInput(removedName), { now: T0 });
      await store().rules.remove(removedName, T0 + 1);

      const renamed = await store().rules.update(name, ruleInput(removedName), T0 + 2);
      expect(renamed.name).toBe(removedName);
    });

    it('update of an unknown or removed rule is not_found', async () => {
      const missing = await rejection(store().rules.update(unique('missing'), ruleInput('x'), T0));
      expect(missing).toBeInstanceOf(OpxError);
      expect(missing).toMatchObject({ code: 'not_found' });

      const name = unique('rule');
      await store().rules.create(ruleInput(name), { now: T0 });
      await store().rules.remove(name, T0 + 1);
      expect(await rejection(store().rules.update(name, ruleInput(name), T0 + 2))).toMatchObject({
        code: 'not_found',
      });
    });

    it('remove soft-deletes: the rule disappears but its row still counts', async () => {
      const name = unique('rule');
      const created = await store().rules.create(ruleInput(name), { now: T0 });
      const before = await store().rules.count();

      expect(await store().rules.remove(created.id, T0 + 1)).toEqual(created);
      expect(await store().rules.get(created.id)).toBeUndefined();
      expect(await store().rules.get(name)).toBeUndefined();
      expect((await store().rules.list({ includeDisabled: true })).map((rule) => rule.id)).not.toContain(
        created.id,
      );
      // migrateAndSeed relies on this: a deleted default rule must not be seeded again.
      expect(await store().rules.count()).toBe(before);
    });

    it('remove of an unknown or already removed rule is not_found', async () => {
      expect(await rejection(store().rules.remove(unique('missing'), T0))).toMatchObject({
        code: 'not_found',
      });
      const name = unique('rule');
      await store().rules.create(ruleInput(name), { now: T0 });
      await store().rules.remove(name, T0 + 1);
      const again = await rejection(store().rules.remove(name, T0 + 2));
      expect(again).toBeInstanceOf(OpxError);
      expect(again).toMatchObject({ code: 'not_found' });
    });

    it('create after remove reuses the name with a new id at version 1', async () => {
      const name = unique('rule');
      const first = await store().rules.create(ruleInput(name), { now: T0 });
      await store().rules.update(name, ruleInput(name), T0 + 1);
      await store().rules.remove(name, T0 + 2);
      const before = await store().rules.count();

      const second = await store().rules.create(ruleInput(name, { priority: 3 }), { now: T0 + 3 });
      expect(second.id).not.toBe(first.id);
      expect(second).toMatchObject({ name, version: 1, priority: 3, createdAt: T0 + 3 });
      expect(await store().rules.get(name)).toEqual(second);
      // The tombstone is replaced, not kept beside the new rule.
      expect(await store().rules.count()).toBe(before);
    });

    it('count counts every rule, disabled ones included', async () => {
      const before = await store().rules.count();
      await store().rules.create(ruleInput(unique('rule')), { now: T0 });
      await store().rules.create(ruleInput(unique('rule'), { enabled: false }), { now: T0 });
      expect(await store().rules.count()).toBe(before + 2);
    });

    it('revision changes after every create, update and remove', async () => {
      await withFreshStore(init, async (fresh) => {
        const seen = [await fresh.rules.revision()];
        const name = unique('rule');
        await fresh.rules.create(ruleInput(name), { now: T0 });
        seen.push(await fresh.rules.revision());
        await fresh.rules.create(ruleInput(unique('rule')), { now: T0 + 10 });
        seen.push(await fresh.rules.revision());
        await fresh.rules.update(name, ruleInput(name, { priority: 1 }), T0 + 20);
        seen.push(await fresh.rules.revision());
        await fresh.rules.remove(name, T0 + 30);
        seen.push(await fresh.rules.revision());
        await fresh.rules.create(ruleInput(name), { now: T0 + 40 });
        seen.push(await fresh.rules.revision());

        expect(new Set(seen).size).toBe(seen.length);
        // Stable while nothing is written, or callers would recompile rules on every batch.
        expect(await fresh.rules.revision()).toBe(seen.at(-1));
      });
    });

    it('revision changes when an older rule is edited', async () => {
      await withFreshStore(init, async (fresh) => {
        const older = unique('rule');
        await fresh.rules.create(ruleInput(older), { now: T0 });
        await fresh.rules.create(ruleInput(unique('rule')), { now: T0 + 2000 });
        const before = await fresh.rules.revision();
        await fresh.rules.update(older, ruleInput(older, { enabled: false }), T0 + 1000);
        expect(await fresh.rules.revision()).not.toBe(before);
      });
    });
  });
}
