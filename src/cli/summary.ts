/**
 * Pieces of the one-line summaries that transfer commands print (copy, pack,
 * unpack): a count with the first few names, never every name. A pack of
 * 45,000 tags printed them all on one line of 400 KB; the full list is in
 * the --format json result.
 */

/** How many names a summary line shows before it says "and N more". */
export const NAMES_SHOWN = 5;

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `v1, v2, v3` or `v1, v2, v3, v4, v5 and 44,995 more`: the first names of `groups`, counted without being copied. */
export function someNames(groups: Iterable<{ tags: readonly string[] }>, shown = NAMES_SHOWN): string {
  const first: string[] = [];
  let total = 0;
  for (const g of groups) {
    for (const t of g.tags) {
      if (first.length < shown) first.push(t);
      total++;
    }
  }
  return total > first.length ? `${first.join(', ')} and ${(total - first.length).toLocaleString('en-US')} more` : first.join(', ');
}

/** ` with 2 referrers`, or nothing when there are none. */
export function withReferrers(n: number): string {
  return n > 0 ? ` with ${plural(n, 'referrer')}` : '';
}
