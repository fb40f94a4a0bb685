/** ocikit's own version, read from package.json beside dist/ (the bundle and the tsc build sit at the same depth). */
import { readFileSync } from 'node:fs';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
