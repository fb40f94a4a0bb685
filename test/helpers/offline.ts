/**
 * Proof that a spawned CLI stayed offline: run it with `offline.env` (a
 * preload that refuses and records every connect to a host that is not
 * loopback; no-network.cjs), then `expect(await offline.attempts()).toEqual([])`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './cli.js';

export const NO_NETWORK_PRELOAD = path.join(REPO_ROOT, 'test', 'helpers', 'no-network.cjs');

export interface OfflineGuard {
  env: Record<string, string>;
  /** Every refused connect so far, one line each. */
  attempts(): Promise<string[]>;
}

export async function offlineGuard(dir: string): Promise<OfflineGuard> {
  const log = path.join(dir, 'network-attempts.log');
  await writeFile(log, '');
  const inherited = process.env['NODE_OPTIONS'] ?? '';
  return {
    env: { NODE_OPTIONS: `${inherited} --require ${NO_NETWORK_PRELOAD}`.trim(), OCIKIT_TEST_NET_LOG: log },
    attempts: async () => (await readFile(log, 'utf8')).split('\n').filter((l) => l.length > 0),
  };
}
