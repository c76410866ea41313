import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_BUFFER_LIMIT_BYTES, streamSubscriber } from '../src/api/routes/console.js';
import { BACKENDS, type TestServer, testServer, waitFor } from './support.js';

/** An open `/v1/stream/incidents` read by the test: everything received so far, and whether it ended. */
interface OpenStream {
  status: number;
  text(): string;
  ended(): boolean;
  cancel(): Promise<void>;
}

async function openStream(server: TestServer, token: string): Promise<OpenStream> {
  const response = await fetch(`${server.baseUrl}/v1/stream/incidents`, {
    headers: { authorization: `Bearer ${token}` },
  });
  let received = '';
  let done = response.status !== 200;
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        received += decoder.decode(chunk.value, { stream: true });
      }
    } catch {
      // A cancelled or dropped stream ends the loop like a closed one.
    } finally {
      done = true;
    }
  })();
  return {
    status: response.status,
    text: () => received,
    ended: () => done,
    cancel: () => reader.cancel().catch(() => undefined),
  };
}

describe.each(BACKENDS)('live incident stream (%s)', (backend) => {
  let server: TestServer;
  const streams: OpenStream[] = [];
  beforeAll(async () => {
    server = await testServer(backend, { streamMaxClients: 3, streamMaxPerToken: 2 });
  });
  afterAll(async () => {
    await Promise.all(streams.map((stream) => stream.cancel()));
    await server?.cleanup();
  });

  async function newToken(name: string): Promise<{ id: string; token: string }> {
    const created = await server.request('POST', '/v1/tokens', { body: { name, scopes: ['read'] } });
    expect(created.status).toBe(201);
    return { id: created.json.id, token: created.json.token };
  }

  it('closes the stream of a token revoked while it is open, and says why', async () => {
    const { id, token } = await newToken(`stream-revoked-${backend}`);
    const stream = await openStream(server, token);
    streams.push(stream);
    expect(stream.status).toBe(200);
    await waitFor('the ready event', () => stream.text().includes('event: ready'));

    expect((await server.request('DELETE', `/v1/tokens/${id}`)).status).toBe(200);
    await waitFor('the stream to end', () => stream.ended(), 10_000);
    expect(stream.text()).toContain('event: error');
    expect(stream.text()).toContain('the token was revoked');
    // And the token cannot open a new one.
    expect((await openStream(server, token)).status).toBe(401);
  });

  it('caps streams per token and in all with a 429, and frees the slot when a stream closes', async () => {
    const first = await newToken(`stream-cap-a-${backend}`);
    const second = await newToken(`stream-cap-b-${backend}`);
    const third = await newToken(`stream-cap-c-${backend}`);
    const a1 = await openStream(server, first.token);
    const a2 = await openStream(server, first.token);
    streams.push(a1, a2);
    expect([a1.status, a2.status]).toEqual([200, 200]);

    const response = await server.request('GET', '/v1/stream/incidents', { token: first.token });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('30');
    expect(response.json.error.message).toContain('streamMaxPerToken');

    const b1 = await openStream(server, second.token);
    streams.push(b1);
    expect(b1.status).toBe(200);
    const full = await server.request('GET', '/v1/stream/incidents', { token: third.token });
    expect(full.status).toBe(429);
    expect(full.json.error.message).toContain('streamMaxClients');

    await a1.cancel();
    // The server frees the slot when it sees the connection close, a moment after the cancel.
    let c1 = await openStream(server, third.token);
    for (let tries = 0; c1.status === 429 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      c1 = await openStream(server, third.token);
    }
    streams.push(c1);
    expect(c1.status).toBe(200);
  });
});

describe('a live stream whose client stops reading', () => {
  it('is cut off once more than the buffer limit is queued for it, and ends exactly once', () => {
    let destroyed = false;
    // A socket whose peer never reads: every write stays queued.
    const stuck = new Writable({ write: () => undefined });
    stuck.destroy = ((): Writable => {
      destroyed = true;
      return stuck;
    }) as Writable['destroy'];
    let ends = 0;
    const slow: number[] = [];
    const subscriber = streamSubscriber(stuck, null, {
      onEnd: () => {
        ends += 1;
      },
      onSlowClient: (queued) => slow.push(queued),
    });
    const frame = `event: incident\ndata: ${'x'.repeat(4096)}\n\n`;
    let writes = 0;
    while (subscriber.isOpen() && writes < 1000) {
      subscriber.send(frame);
      writes += 1;
    }
    expect(subscriber.isOpen()).toBe(false);
    expect(destroyed).toBe(true);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toBeGreaterThan(STREAM_BUFFER_LIMIT_BYTES);
    expect(writes).toBeLessThan(Math.ceil(STREAM_BUFFER_LIMIT_BYTES / 4096) + 3);
    // Nothing more is written, and a later close or client hang-up does not end it twice.
    const queued = stuck.writableLength;
    subscriber.send(frame);
    subscriber.close({ code: 'unauthorized', message: 'late' });
    subscriber.ended();
    expect(stuck.writableLength).toBe(queued);
    expect(ends).toBe(1);
  });
});
