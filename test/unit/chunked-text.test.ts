import { describe, expect, it } from 'vitest';
import { readUtf8, TEXT_CHUNK } from '../../src/fs/chunked-text.js';

/** A reader over `bytes` that counts its calls and the largest read asked for. */
function reader(bytes: Buffer) {
  const seen = { calls: 0, largest: 0 };
  const read = async (position: number, length: number) => {
    seen.calls++;
    seen.largest = Math.max(seen.largest, length);
    return bytes.subarray(position, position + length);
  };
  return { read, seen };
}

describe('readUtf8', () => {
  it('decodes text whose multi-byte characters straddle the chunks, never reading more than a chunk at once', async () => {
    // 'é' is two bytes, '🙂' four: with a leading byte the chunk boundaries fall inside characters.
    const text = 'x' + 'é🙂'.repeat(3 * TEXT_CHUNK / 6 + 5);
    const bytes = Buffer.from(text, 'utf8');
    const { read, seen } = reader(bytes);
    expect(await readUtf8(bytes.length, read)).toBe(text);
    expect(seen.largest).toBe(TEXT_CHUNK);
    expect(seen.calls).toBe(Math.ceil(bytes.length / TEXT_CHUNK));
  });

  it('answers undefined for bytes that are not UTF-8, wherever they are, and for a truncated character at the end', async () => {
    const bytes = Buffer.alloc(3 * TEXT_CHUNK, 'a');
    bytes[2 * TEXT_CHUNK + 17] = 0xff;
    expect(await readUtf8(bytes.length, reader(bytes).read)).toBeUndefined();
    const cut = Buffer.from('ab🙂', 'utf8').subarray(0, 4);
    expect(await readUtf8(cut.length, reader(cut).read)).toBeUndefined();
  });

  it('stops at the end of what the reader has (a file that shrank)', async () => {
    const bytes = Buffer.from('{"a":1}');
    expect(await readUtf8(100, reader(bytes).read)).toBe('{"a":1}');
    expect(await readUtf8(0, reader(bytes).read)).toBe('');
  });
});
