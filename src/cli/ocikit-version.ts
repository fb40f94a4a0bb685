/** The version of this ocikit, from its package.json (one level above dist/, as above src/). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function ocikitVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cached;
}
