/**
 * The concurrency helpers behind every walk: at most n at once, results in
 * order, work discovered on the way is done too, and the first failure stops
 * new work and is reported once what is running has finished.
 */
import { describe, expect, it } from 'vitest';
import { WorkQueue, limiter, mapBounded } from '../../src/util/limit.js';

const tick = (ms = Math.random() * 3) => new Promise((r) => setTimeout(r, ms));

describe('mapBounded', () => {
  it('keeps item order and never runs more than n at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded([...Array(200).keys()], 7, async (x, i) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      running--;
      return x * 2 + i;
    });
    expect(out).toEqual([...Array(200).keys()].map((x) => x * 3));
    expect(peak).toBe(7);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await expect(
      mapBounded([...Array(100).keys()], 4, async (x) => {
        started.push(x);
        await tick(1);
        if (x === 10) throw new Error('item 10 failed');
        return x;
      }),
    ).rejects.toThrow('item 10 failed');
    await tick(20);
    expect(Math.max(...started)).toBeLessThan(10 + 4);
  });

  it('handles no items, and refuses a concurrency that is not a positive integer', async () => {
    expect(await mapBounded([], 3, async () => 1)).toEqual([]);
    await expect(mapBounded([1], 0, async () => 1)).rejects.toThrow(RangeError);
    expect(() => limiter(1.5)).toThrow(RangeError);
  });
});

describe('WorkQueue', () => {
  it('walks a tree discovered on the way, n at a time, each node once', async () => {
    // A tree of 3,000 nodes: node k has children 3k+1..3k+3.
    const seen: number[] = [];
    let running = 0;
    let peak = 0;
    const queue: WorkQueue<number> = new WorkQueue(5, async (k) => {
      running++;
      peak = Math.max(peak, running);
      await tick();
      seen.push(k);
      for (let c = 3 * k + 1; c <= 3 * k + 3 && c < 3000; c++) queue.push(c);
      running--;
    });
    queue.push(0);
    await queue.drained();
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(3000).keys()]);
    expect(peak).toBe(5);
    // Idle: drained again at once; and it takes more work afterwards.
    await queue.drained();
    queue.push(5000);
    await queue.drained();
    expect(seen).toContain(5000);
  });

  it('a failure stops new work; drained() rejects once the running items have finished', async () => {
    const finished: number[] = [];
    const queue = new WorkQueue<number>(3, async (k) => {
      await tick(k === 5 ? 1 : 5);
      if (k === 5) throw new Error('node 5 failed');
      finished.push(k);
    });
    for (let k = 0; k < 50; k++) queue.push(k);
    await expect(queue.drained()).rejects.toThrow('node 5 failed');
    expect(finished.length).toBeLessThan(10);
    const count = finished.length;
    await tick(30);
    expect(finished.length).toBe(count);
  });

  it('pushNew runs each key once, however often a walk meets it', async () => {
    const ran: string[] = [];
    const queue = new WorkQueue<string>(2, async (k) => {
      await tick();
      ran.push(k);
    });
    for (const k of ['a', 'b', 'a', 'c', 'b', 'a']) queue.pushNew(k, k);
    await queue.drained();
    queue.pushNew('a', 'a');
    await queue.drained();
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
  });

  it('handles an empty queue and synchronous pushes from inside an item', async () => {
    const empty = new WorkQueue<number>(2, async () => undefined);
    await empty.drained();
    const order: number[] = [];
    const queue: WorkQueue<number> = new WorkQueue(1, async (k) => {
      order.push(k);
      if (k < 2000) queue.push(k + 1); // a long chain: the consumed front is dropped as it goes
    });
    queue.push(0);
    await queue.drained();
    expect(order).toEqual([...Array(2001).keys()]);
  });
});

describe('WorkQueue.feed', () => {
  it('takes fed items only when nothing pushed is waiting, and drains them all', async () => {
    const done: string[] = [];
    let pulled = 0;
    function* roots() {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield `r${i}`;
      }
    }
    const queue = new WorkQueue<string>(2, async (item) => {
      await tick();
      done.push(item);
      // Each root brings two children, which go before the next roots.
      if (item.startsWith('r')) for (const c of ['a', 'b']) queue.push(`child ${c} of ${item}`);
    });
    queue.feed(roots());
    // Only what the two running slots took has been pulled; the rest waits in the generator.
    expect(pulled).toBe(2);
    await queue.drained();
    expect(pulled).toBe(50);
    expect(done).toHaveLength(150);
    // A root's children are done before roots far behind it are started.
    expect(done.indexOf('child a of r0')).toBeLessThan(done.indexOf('r10'));
  });
});
