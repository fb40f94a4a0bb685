/**
 * Scanning what a run produced for secrets: every byte of its output and of
 * every file under the directories it wrote, searched as raw bytes (a secret
 * inside a binary file or a JSON string counts just the same).
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface Haystack {
  /** Where the bytes came from: `stdout of ...`, a file path. */
  where: string;
  bytes: Buffer;
}

/** Every regular file under `dir` (recursively), as haystacks. A missing directory has none. */
export async function filesUnder(dir: string): Promise<Haystack[]> {
  const out: Haystack[] = [];
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      const st = await lstat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) out.push({ where: p, bytes: await readFile(p) });
    }
  };
  await walk(dir);
  return out;
}

/** `where: which secret` for every haystack that holds one of `secrets` (named, so a failure does not print the secret itself). */
export function secretsFound(haystacks: Haystack[], secrets: Record<string, string>): string[] {
  const found: string[] = [];
  for (const h of haystacks) {
    for (const [name, value] of Object.entries(secrets)) if (value !== '' && h.bytes.includes(Buffer.from(value))) found.push(`${h.where}: ${name}`);
  }
  return found;
}
