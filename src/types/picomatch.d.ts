/**
 * The part of picomatch 2 that ocikit uses (`artifact pull --include`).
 * picomatch ships no types, and @types/picomatch would be a second package
 * for one function.
 */
declare module 'picomatch' {
  interface PicomatchOptions {
    /** Let `*` and `**` match names that start with a dot. */
    dot?: boolean;
  }
  function picomatch(patterns: string | readonly string[], options?: PicomatchOptions): (input: string) => boolean;
  export default picomatch;
}
