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

/**
 * The one way sizes are written for people (text output of every command,
 * progress, reports): `512 B`, `1.5 KiB`, `150.0 MiB`, always one decimal
 * above a KiB so that columns of sizes line up and a size read twice never
 * changes shape. JSON carries exact byte counts instead.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
