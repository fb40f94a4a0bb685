import { UsageError } from '../../index.js';

/**
 * `--annotation KEY=VALUE` flags as a map; a flag without `=` is a usage
 * error. The map has no prototype: a key such as `__proto__` is an
 * annotation like any other, not a way to change the object.
 */
export function parseAnnotations(flags: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const f of flags ?? []) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid annotation "${f}": write KEY=VALUE`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}
