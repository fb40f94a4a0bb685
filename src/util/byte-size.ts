/**
 * Sizes as people write them on a command line or in the environment:
 * `1048576`, `512K`, `512KiB`, `100M`, `16GiB`, `2T`. Whole numbers only;
 * K/M/G/T are powers of 1024 whether written K, KB or KiB (a limit is about
 * bytes on a disk, and the difference is never what a user meant).
 */
const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes, or undefined when `text` is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(n) ? n : undefined;
}
