/**
 * jsonChunks writes reports in pieces; joined, the pieces must be exactly the
 * text JSON.stringify gives (indented, and compact for the HTML report), or
 * `--format json` would change shape for scripts that compare it.
 */
import { describe, expect, it } from 'vitest';
import { batched, JsonArrayStream, JsonLater, jsonChunks } from '../../src/util/json-chunks.js';

const SAMPLES: unknown[] = [
  null,
  0,
  'text with "quotes", \\ and \n newline \u2028',
  [],
  {},
  [1, 'two', null, true],
  { a: 1, b: undefined, c: () => 1, d: [undefined, () => 2, { e: [] }], f: {} },
  { nested: { deeper: { list: [{ x: 1 }, [2, [3, { y: 'z' }]], {}] } }, date: new Date(0), empty: [] },
  [[[]], [{}], { k: [[1], [2]] }],
  { target: 'layout', roots: [{ tags: ['v1'], node: { digest: 'sha256:ab', children: [{ digest: 'sha256:cd', layers: [] }] } }], summary: { roots: 1 } },
];

describe('jsonChunks', () => {
  it.each(SAMPLES.map((v, i) => [i, v]))('sample %i joins to JSON.stringify(v, null, 2) and, compact, to JSON.stringify(v)', (_i, value) => {
    expect([...jsonChunks(value)].join('')).toBe(JSON.stringify(value, null, 2));
    expect([...jsonChunks(value, { compact: true })].join('')).toBe(JSON.stringify(value));
  });

  it('writes a JsonArrayStream as the array of its items and a JsonLater as its value once reached', () => {
    const order: string[] = [];
    function* items() {
      for (const i of [1, 2, 3]) {
        order.push(`item ${i}`);
        yield { i, tags: [`t${i}`] };
      }
    }
    const streamed = { roots: new JsonArrayStream(items()), summary: new JsonLater(() => (order.push('summary'), { count: 3 })), none: new JsonArrayStream([]) };
    const plain = { roots: [1, 2, 3].map((i) => ({ i, tags: [`t${i}`] })), summary: { count: 3 }, none: [] };
    expect([...jsonChunks(streamed)].join('')).toBe(JSON.stringify(plain, null, 2));
    // The summary is computed after the items it summarises have been produced.
    expect(order).toEqual(['item 1', 'item 2', 'item 3', 'summary']);
  });

  it('batched joins pieces into chunks of about the size asked for, losing nothing', () => {
    const pieces = Array.from({ length: 1000 }, (_, i) => `piece ${i};`);
    const chunks = [...batched(pieces, 100)];
    expect(chunks.join('')).toBe(pieces.join(''));
    expect(chunks.length).toBeGreaterThan(50);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(120);
  });
});
