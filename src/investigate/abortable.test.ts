import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { abortable } from './service.js';

describe('abortable', () => {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', record);
  });
  afterEach(() => {
    process.off('unhandledRejection', record);
  });

  /** A run that settles when told to, as LangGraph's does a step after an abort. */
  const pending = () => {
    let fail!: (error: Error) => void;
    const work = new Promise<string>((_resolve, reject) => {
      fail = reject;
    });
    return { work, fail };
  };
  const turns = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('rejects with the reason of a signal already aborted, and still observes the abandoned run', async () => {
    const stop = new AbortController();
    const reason = new Error('SIGTERM received');
    stop.abort(reason);
    const run = pending();
    await expect(abortable(run.work, stop.signal)).rejects.toBe(reason);
    // The abandoned run rejects later with the same reason: that must not surface as an unhandled
    // rejection, which ends the process in the middle of its drain.
    run.fail(reason);
    await turns();
    expect(unhandled).toEqual([]);
  });

  it('rejects as soon as the signal aborts mid-run, and observes the run afterwards', async () => {
    const stop = new AbortController();
    const run = pending();
    const waiting = abortable(run.work, stop.signal);
    const reason = new Error('lease lost');
    stop.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    run.fail(new Error('step aborted'));
    await turns();
    expect(unhandled).toEqual([]);
  });

  it('passes the result through when nothing aborts', async () => {
    const stop = new AbortController();
    await expect(abortable(Promise.resolve('done'), stop.signal)).resolves.toBe('done');
  });
});
