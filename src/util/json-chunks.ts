/**
 * JSON.stringify(value, null, 2), produced piece by piece, so that a report
 * of tens of thousands of manifests is written as it is serialized instead
 * of first becoming one string several times the size of the data (and, for
 * a few moments, that string plus the pieces it was joined from).
 *
 * The text is exactly what JSON.stringify gives: a nested value printed at
 * indentation `ind` is its own stringification with every newline followed
 * by `ind` (JSON strings never hold a raw newline), and a container whose
 * members are all primitives is stringified in one go (that is most of them:
 * descriptors, labels, annotations), which keeps the number of pieces small.
 */
export function* jsonChunks(value: unknown, opts: { compact?: boolean } = {}): Generator<string, void, undefined> {
  yield* chunks(value, opts.compact ? COMPACT : INDENTED, '');
}

/** How JSON.stringify(v) (compact) or JSON.stringify(v, null, 2) lays out members. */
interface Layout {
  space: number;
  /** Between members, and around a non-empty container's members (newline or nothing). */
  newline: string;
  step: string;
  colon: string;
}
const INDENTED: Layout = { space: 2, newline: '\n', step: '  ', colon: ': ' };
const COMPACT: Layout = { space: 0, newline: '', step: '', colon: ':' };

function* chunks(value: unknown, layout: Layout, indent: string): Generator<string, void, undefined> {
  if (value instanceof JsonLater) value = value.produce();
  if (value instanceof JsonArrayStream) {
    yield* arrayChunks(value.items, layout, indent);
    return;
  }
  if (!isPlainContainer(value) || !hasContainerMember(value)) {
    yield reindent(JSON.stringify(value, null, layout.space) ?? 'null', indent);
    return;
  }
  if (Array.isArray(value)) {
    yield* arrayChunks(value, layout, indent);
    return;
  }
  const inner = `${indent}${layout.step}`;
  yield '{';
  let first = true;
  for (const [key, member] of Object.entries(value)) {
    if (!isJsonValue(member)) continue;
    yield `${first ? '' : ','}${layout.newline}${inner}${JSON.stringify(key)}${layout.colon}`;
    first = false;
    yield* chunks(member, layout, inner);
  }
  yield first ? '}' : `${layout.newline}${indent}}`;
}

function* arrayChunks(items: Iterable<unknown>, layout: Layout, indent: string): Generator<string, void, undefined> {
  const inner = `${indent}${layout.step}`;
  let first = true;
  for (const item of items) {
    yield `${first ? '[' : ','}${layout.newline}${inner}`;
    first = false;
    // An array shows what JSON cannot hold (undefined, functions) as null, as JSON.stringify does.
    yield* chunks(isJsonValue(item) ? item : null, layout, inner);
  }
  yield first ? '[]' : `${layout.newline}${indent}]`;
}

/**
 * Pieces of text joined into chunks of about `size` characters: a writer
 * then makes a few hundred writes for a report of megabytes, not a million.
 */
export function* batched(pieces: Iterable<string>, size = 16 * 1024): Generator<string, void, undefined> {
  let parts: string[] = [];
  let length = 0;
  for (const p of pieces) {
    parts.push(p);
    length += p.length;
    if (length >= size) {
      yield parts.join('');
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield parts.join('');
}

/** Arrays and plain objects; anything with a toJSON (dates) is left to JSON.stringify whole. */
function isPlainContainer(v: unknown): v is unknown[] | Record<string, unknown> {
  if (Array.isArray(v)) return true;
  if (typeof v !== 'object' || v === null || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function hasContainerMember(v: unknown[] | Record<string, unknown>): boolean {
  // The markers count as containers: JSON.stringify would not know what to make of them.
  for (const m of Array.isArray(v) ? v : Object.values(v)) if (typeof m === 'object' && m !== null) return true;
  return false;
}

function isJsonValue(v: unknown): boolean {
  return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
}

function reindent(text: string, indent: string): string {
  return indent === '' || !text.includes('\n') ? text : text.replace(/\n/g, `\n${indent}`);
}

/** An array whose items are produced while it is written (the roots of a big inspect report). */
export class JsonArrayStream {
  constructor(readonly items: Iterable<unknown>) {}
}

/** A value computed when the writer reaches it: a summary of what the members before it produced. */
export class JsonLater {
  constructor(readonly produce: () => unknown) {}
}
