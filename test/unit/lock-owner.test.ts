/**
 * The layout lock never exists without the name of its owner (issue 16,
 * point 16: a kill between making the lock and naming its owner left a lock
 * the next writer waited 10 s for). Its own file, because the lock module
 * must be imported only after the fs functions are wrapped: nothing here
 * imports src/ statically.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const LOCK = '.ocikit.lock';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ocikit-lock-owner-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('the lock and its owner', () => {
  /**
   * Wrap the fs calls a lock is made with, and after each one look at the
   * lock path: a process killed right after that call would leave this
   * behind. It must be nothing, or a lock that names its owner (so the next
   * writer can see the owner is gone and take over at once instead of
   * waiting 10 s). The lock module is imported after the wrapping, so that it
   * (and a library it uses) sees the wrapped functions.
   */
  it('never exists without its owner, after any step of taking it', async () => {
    const lockPath = path.join(dir, LOCK);
    const seen: string[] = [];
    const look = (step: string) => {
      let text: string | undefined;
      try {
        const st = fs.lstatSync(lockPath);
        text = fs.readFileSync(st.isDirectory() ? path.join(lockPath, 'owner') : lockPath, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !fs.existsSync(lockPath)) return; // no lock at all
        text = '';
      }
      if (!new RegExp(`^${process.pid} ${hostname()}( [0-9a-f]+)?\\n$`).test(text)) seen.push(`${step}: lock without owner (${JSON.stringify(text)})`);
    };
    const restore: Array<() => void> = [];
    const wrap = (obj: Record<string, unknown>, name: string, callback: boolean) => {
      const real = obj[name] as (...a: unknown[]) => unknown;
      if (typeof real !== 'function') return;
      obj[name] = callback
        ? (...args: unknown[]) => {
            const cb = args.pop() as (...r: unknown[]) => void;
            return real.call(obj, ...args, (...r: unknown[]) => (look(name), cb(...r)));
          }
        : async (...args: unknown[]) => {
            try {
              return await real.apply(obj, args);
            } finally {
              look(name);
            }
          };
      restore.push(() => (obj[name] = real));
    };
    for (const name of ['mkdir', 'writeFile', 'open', 'link', 'rename', 'utimes']) {
      wrap(fs as unknown as Record<string, unknown>, name, true);
      wrap(fs.promises as unknown as Record<string, unknown>, name, false);
    }
    try {
      const { withLock } = await import('../../src/fs/lock.js');
      for (let n = 0; n < 5; n++) await withLock(lockPath, async () => undefined);
    } finally {
      for (const r of restore) r();
    }
    expect(seen).toEqual([]);
  });
});
