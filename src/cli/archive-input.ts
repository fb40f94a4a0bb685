/**
 * Where `unpack` and `verify` read an archive whole, front to back, in one
 * pass and without a temp file: `-` (stdin, plain tar or gzip, told apart by
 * its first bytes) or a compressed archive file. Anything else (a layout
 * directory, an uncompressed tar read in place, a registry, a reference with
 * a tag or digest) is opened as a target, as before.
 */
import { compressedArchiveStream, UsageError, type Reference } from '../index.js';
import type { Readable } from 'node:stream';

export interface ArchiveInput {
  input: Readable;
  /** What messages call it: the path, or "stdin". */
  source: string;
  compressedSize?: number;
  close(): Promise<void>;
}

export const STDIN = '-';

/** stdin, for `-`: refused when it is a terminal, where nobody is going to type a tar. */
export function stdinArchive(command: string): ArchiveInput {
  if (process.stdin.isTTY) {
    throw new UsageError(`${command} - reads an archive from stdin, and stdin is a terminal`, { hint: `pipe one in: ocikit pack SRC - | ocikit ${command} -${command === 'unpack' ? ' DIR' : ''}` });
  }
  return { input: process.stdin, source: 'stdin', close: async () => undefined };
}

/** A compressed archive named by `ref` as a whole (no tag, digest or platform), as a stream; else undefined. */
export async function compressedArchiveInput(ref: Reference, whole: boolean): Promise<ArchiveInput | undefined> {
  if (!whole || ref.kind !== 'layout-archive' || ref.tag !== undefined || ref.digest !== undefined) return undefined;
  const file = await compressedArchiveStream(ref.path!);
  return file && { ...file, source: ref.path! };
}
