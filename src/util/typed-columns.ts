/**
 * Columns of numbers indexed by a DigestIndex number: one typed array per
 * fact instead of an object per blob (see DigestIndex for why).
 */

type Column = Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;

/**
 * `column` itself when index `n` is inside it, else a copy doubled in length
 * until it is; the new elements are `fill`. Callers assign the result back.
 */
export function fitColumn<C extends Column>(column: C, n: number, fill = 0): C {
  if (n < column.length) return column;
  let length = Math.max(column.length, 1);
  while (n >= length) length *= 2;
  const grown = new (column.constructor as new (length: number) => C)(length);
  grown.set(column as never);
  if (fill !== 0) grown.fill(fill, column.length);
  return grown;
}
