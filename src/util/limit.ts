function checkConcurrency(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency must be a positive integer, got ${n}`);
}

/** A counting semaphore: run at most `n` tasks at once. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  checkConcurrency(n);
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * `fn` over `items`, at most `n` at a time, results in item order. Unlike
 * `Promise.all(items.map((i) => limit(() => fn(i))))`, the items not yet
 * started wait as plain values, not as suspended async calls: each of those
 * costs about a kilobyte (a promise, a closure, its context), which for an
 * index.json of tens of thousands of entries is most of the process's memory.
 * The first failure stops new items from starting and is what this rejects with.
 */
export async function mapBounded<T, R>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  checkConcurrency(n);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

/**
 * Work found as it goes (a graph walk: each manifest read adds its children),
 * run `n` items at a time. Waiting items are plain values, for the reason
 * given at mapBounded. The first failure stops new items from starting;
 * `drained()` then rejects with it once the running ones have finished.
 */
export class WorkQueue<T> {
  private items: T[] = [];
  private head = 0;
  private running = 0;
  private failure?: { error: unknown };
  private readonly seen = new Set<string>();
  /** Items produced on demand (see feed), taken when nothing pushed is waiting. */
  private readonly sources: Array<Iterator<T>> = [];
  private waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(
    private readonly n: number,
    private readonly run: (item: T) => Promise<void>,
  ) {
    checkConcurrency(n);
  }

  push(item: T): void {
    this.items.push(item);
    this.pump();
  }

  /**
   * Take items from `items` only when nothing pushed is waiting: the roots of
   * a walk (50,000 index.json entries) then wait as the entries they come
   * from, not as 50,000 queued work items, and the walk goes deep before wide.
   */
  feed(items: Iterable<T>): void {
    this.sources.push(items[Symbol.iterator]());
    this.pump();
  }

  /** Push `item` unless an item with this key was pushed before (a walk meets shared children again). */
  pushNew(key: string, item: T): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.push(item);
  }

  /** Resolves when nothing is queued or running (items pushed meanwhile included). */
  drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settleIfIdle();
    });
  }

  private pump(): void {
    while (!this.failure && this.running < this.n) {
      let item: T;
      if (this.head < this.items.length) {
        item = this.items[this.head]!;
        this.items[this.head++] = undefined as T;
        // Drop the consumed front now and then, so a long walk does not keep every item it has seen.
        if (this.head >= 1024 && this.head * 2 >= this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
      } else if (this.sources.length > 0) {
        const next = this.sources[0]!.next();
        if (next.done) {
          this.sources.shift();
          continue;
        }
        item = next.value;
      } else break;
      this.running++;
      this.run(item).then(
        () => this.finished(),
        (error: unknown) => {
          this.failure ??= { error };
          this.finished();
        },
      );
    }
  }

  private finished(): void {
    this.running--;
    this.pump();
    this.settleIfIdle();
  }

  private settleIfIdle(): void {
    if (this.running > 0 || (!this.failure && (this.head < this.items.length || this.sources.length > 0))) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (this.failure) w.reject(this.failure.error);
      else w.resolve();
    }
  }
}
