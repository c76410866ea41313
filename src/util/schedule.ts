/**
 * Runs `work` now and then every `everyMs` until `signal` aborts, never two at once: a tick that comes
 * while the previous run is still going waits for it. `work` must not throw (it logs its own failures).
 * Resolves once the run in progress when `signal` aborted is over.
 */
export function runEvery(everyMs: number, signal: AbortSignal, work: () => Promise<void>): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let running: Promise<void> = work();
    const timer = setInterval(() => {
      running = running.then(work);
    }, everyMs);
    timer.unref();
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        void running.then(() => resolve());
      },
      { once: true },
    );
  });
}
