/**
 * Give the event loop a turn during long loops. An `await` on work that needs
 * no I/O (a settled promise, an async call that returns at once) runs as a
 * microtask and lets nothing else run: not the lock's refresh timer, not
 * signal handlers. A loop over 100,000 index.json entries written that way
 * held the layout lock unrefreshed until it went stale, and ignored SIGINT.
 */

/** How long a loop may run between turns: well under the lock's 2 s refresh, and not noticeable for ^C. */
const SLICE_MS = 50;
/** Look at the clock only every so many steps. */
const CHECK_EVERY = 256;

export class EventLoopTurns {
  private steps = 0;
  private since = performance.now();

  /** Call once per step of a loop; every SLICE_MS it waits for a turn of the event loop. */
  async step(): Promise<void> {
    if (++this.steps % CHECK_EVERY !== 0 || performance.now() - this.since < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}
