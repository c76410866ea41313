import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpxError } from '../domain/errors.js';
import { openStore, type Store } from '../store/store.js';
import { AuditedWrites, type WriteRequest } from './writes.js';

let store: Store;
let writes: AuditedWrites;

beforeEach(async () => {
  store = await openStore(':memory:');
  await store.migrate();
  writes = new AuditedWrites(store);
});

afterEach(async () => {
  await writes.close();
  await store.close();
});

function request(key?: string, body: unknown = { title: 'a note' }): WriteRequest {
  return {
    audit: { principal: 'alice', action: 'POST /v1/things', target: 'thing-1', requestId: 'req-1' },
    ...(key ? { idempotency: { principal: 'alice', key, route: 'POST /v1/things', body } } : {}),
  };
}

/** A write that counts how often its work ran. */
function counted() {
  let runs = 0;
  const work = async () => {
    runs += 1;
    return { statusCode: 201, body: { run: runs } };
  };
  return { work, runs: () => runs };
}

describe('AuditedWrites', () => {
  it('records one audit entry with the write, with the status and the request id', async () => {
    const { work } = counted();
    const answer = await writes.write(work, request());
    expect(answer).toEqual({ statusCode: 201, body: { run: 1 }, replayed: false });
    const entries = await store.audit.list();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      principal: 'alice',
      action: 'POST /v1/things',
      target: 'thing-1',
      detail: { status: 201, requestId: 'req-1' },
    });
  });

  it('lets the work name a better audit target and add detail', async () => {
    await writes.write(
      async () => ({ statusCode: 200, body: null, audit: { target: 'thing-2', detail: { merged: 3 } } }),
      request(),
    );
    const [entry] = await store.audit.list();
    expect(entry).toMatchObject({ target: 'thing-2', detail: { status: 200, merged: 3 } });
  });

  it('answers a repeated idempotency key with the first answer, without running the work or auditing again', async () => {
    const { work, runs } = counted();
    await writes.write(work, request('key-1'));
    const again = await writes.write(work, request('key-1'));
    expect(again).toEqual({ statusCode: 201, body: { run: 1 }, replayed: true });
    expect(runs()).toBe(1);
    expect(await store.audit.list()).toHaveLength(1);
  });

  it('refuses a key reused for a different body, and writes nothing', async () => {
    const { work, runs } = counted();
    await writes.write(work, request('key-1', { title: 'first' }));
    const reused = writes.write(work, request('key-1', { title: 'second' }));
    await expect(reused).rejects.toBeInstanceOf(OpxError);
    await expect(reused).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(runs()).toBe(1);
    expect(await store.audit.list()).toHaveLength(1);
  });

  it('leaves neither the key nor an audit entry behind when the work fails', async () => {
    const failing = writes.write(async () => {
      throw new OpxError('conflict', 'the incident is closed');
    }, request('key-1'));
    await expect(failing).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.audit.list()).toHaveLength(0);
    const { work, runs } = counted();
    expect(await writes.write(work, request('key-1'))).toMatchObject({ replayed: false });
    expect(runs()).toBe(1);
  });

  it('keeps the answer of a long write for its key with remember, and replays it', async () => {
    const idempotency = request('key-2').idempotency!;
    expect(await writes.replayed(idempotency)).toBeUndefined();
    await writes.remember(idempotency, { statusCode: 202, body: { id: 'inv-1' } });
    await writes.audited(request('key-2'), 202, { target: 'inv-1' });
    expect(await writes.replayed(idempotency)).toEqual({
      statusCode: 202,
      body: { id: 'inv-1' },
      replayed: true,
    });
    await expect(writes.replayed({ ...idempotency, body: { other: true } })).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(await store.audit.list()).toMatchObject([{ target: 'inv-1', detail: { status: 202 } }]);
  });

  it('writes without a request unaudited, and refuses work once closed', async () => {
    await writes.write(async () => ({ statusCode: 200, body: null }));
    expect(await store.audit.list()).toHaveLength(0);
    await writes.close();
    await expect(writes.run(async () => 1)).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});
