/** Small formatting helpers shared by the audit renderers. */

export { formatBytes } from '../util/byte-size.js';

/** `k=v, k2=v2`, sorted by key, for one-line display of labels and annotations. */
export function formatPairs(map: Record<string, string> | undefined): string {
  if (!map) return '';
  return Object.keys(map)
    .sort()
    .map((k) => `${k}=${map[k]}`)
    .join(', ');
}

/** One line of text from untrusted strings: control characters (newlines, escapes) shown as \uXXXX. */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface TextTreeItem {
  text: string;
  /** Lines printed under the item, before its children. */
  notes?: string[];
  children?: TextTreeItem[];
}

/** Draw items with box-drawing branches, as `discover -o tree` does. */
function renderTextTree(items: TextTreeItem[], prefix = ''): string[] {
  const lines: string[] = [];
  items.forEach((item, i) => lines.push(...renderTextTreeItem(item, i === items.length - 1, prefix)));
  return lines;
}

/** One item of a tree and everything below it; `last` draws it as the last of its siblings. */
export function renderTextTreeItem(item: TextTreeItem, last: boolean, prefix = ''): string[] {
  const lines = [`${prefix}${last ? '└── ' : '├── '}${item.text}`];
  const inner = prefix + (last ? '    ' : '│   ');
  const children = item.children ?? [];
  for (const note of item.notes ?? []) lines.push(`${inner}${children.length > 0 ? '│ ' : '  '}${note}`);
  lines.push(...renderTextTree(children, inner));
  return lines;
}

/** "1 layer", "2 layers", "2 indexes". */
export function plural(n: number, word: string, many = word.endsWith('x') ? `${word}es` : `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
