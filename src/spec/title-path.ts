/**
 * Layer titles (`org.opencontainers.image.title`) as file paths: `artifact
 * push` makes them from the paths it is given, `artifact pull` writes each
 * titled layer to DIR/<title>. A title comes from whoever wrote the manifest,
 * so it is checked like an archive entry name (design rule 4): relative,
 * forward slashes, no `..`, nothing that a shell or another platform reads
 * differently. Push refuses what pull would refuse, so that what ocikit
 * writes, ocikit can read back.
 */

/** Why `title` cannot name a file under an output directory, or undefined when it can. */
export function titlePathProblem(title: string): string | undefined {
  if (title.length === 0) return 'it is empty';
  if (title.includes('\0')) return 'it contains a NUL character';
  // A backslash is a separator on Windows: `..\\x` would climb out there, and the title means two different files on two platforms.
  if (title.includes('\\')) return 'it contains a backslash';
  if (title.startsWith('/')) return 'it is an absolute path';
  const parts = title.split('/');
  if (parts.includes('..')) return 'it has a ".." component';
  if (title.endsWith('/')) return 'it ends with "/" (a directory, not a file)';
  if (parts.every((p) => p === '' || p === '.')) return 'it names no file';
  return undefined;
}

/**
 * The path a title that passed titlePathProblem names, relative and
 * normalised: `./a//b` is `a/b`. Two titles with the same path are the same
 * file.
 */
export function titleFilePath(title: string): string {
  return title
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/**
 * The first conflict among titles' file paths: the same path twice, or one
 * path that is a directory of another (`a` and `a/b`: `a` cannot be both a
 * file and a directory). Undefined when every path is a file of its own.
 */
export function titleConflict(paths: readonly string[]): { path: string; other: string } | undefined {
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) return { path: p, other: p };
    seen.add(p);
  }
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seen.has(dir)) return { path: p, other: dir };
    }
  }
  return undefined;
}
