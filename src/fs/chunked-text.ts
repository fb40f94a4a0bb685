/**
 * A large text file (index.json of 50,000 entries is 10 MiB) read as UTF-8
 * a chunk at a time, never as one Buffer of its whole size. Why it matters:
 * a Buffer is malloc'd memory, and when glibc frees a block that large it
 * raises its mmap threshold to the block's size, so every later allocation
 * below it (tables of tens of megabytes made while a report is written) is
 * carved from the heap, whose holes are never given back. One such read put
 * 15 MiB on the peak RSS of `inspect --verify` at 50,000 manifests. The
 * chunks are below the threshold; the text itself lives in V8's heap.
 */

/** Below glibc's initial mmap threshold (128 KiB). */
export const TEXT_CHUNK = 64 * 1024;

/**
 * The UTF-8 text of `size` bytes delivered by `readChunk(position, length)`
 * (which returns fewer bytes only at the end), or undefined when they are not
 * valid UTF-8.
 */
export async function readUtf8(size: number, readChunk: (position: number, length: number) => Promise<Buffer>): Promise<string | undefined> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const parts: string[] = [];
  try {
    for (let position = 0; position < size; ) {
      const chunk = await readChunk(position, Math.min(TEXT_CHUNK, size - position));
      if (chunk.length === 0) break;
      parts.push(decoder.decode(chunk, { stream: true }));
      position += chunk.length;
    }
    parts.push(decoder.decode());
  } catch (err) {
    if (err instanceof TypeError && (err as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return undefined;
    throw err;
  }
  return parts.join('');
}
