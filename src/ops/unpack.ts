/**
 * `unpack`: an archive (or any source) into a layout directory, either a new
 * one or merged into an existing layout.
 *
 * Every blob goes through LayoutDir.push (verified, temp file inside the
 * layout, rename), and index.json is updated once, last, under the layout's
 * lock; nothing is ever written outside the directory, since archive entry
 * names are never used as paths (blobs land under their digests). Blobs the
 * layout already has are not read from the source, so a delta bundle unpacks
 * into the layout holding its base.
 *
 * On failure a directory that unpack created is removed again, and one that
 * was empty is emptied; an existing layout keeps the verified blobs already
 * written (unreferenced until index.json names them; `gc` reclaims them) and
 * its index.json is untouched.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { OcikitError, fromFsError } from '../errors.js';
import type { Reference } from '../reference.js';
import type { Descriptor, Platform } from '../spec/types.js';
import type { CopyEvent } from '../graph/copy.js';
import { arrivedBlobReporter } from '../graph/progress-events.js';
import { LayoutDir } from '../targets/layout-dir.js';
import { StreamedLayout } from '../targets/streamed-layout.js';
import type { TarStreamOptions } from '../archive/tar-stream-reader.js';
import type { ReadTarget } from '../graph/target.js';
import { selectRoots, selectsWholeLayout, transfer, type TransferResult } from './transfer.js';

export interface UnpackOptions {
  concurrency?: number;
  platform?: Platform;
  onEvent?: (e: CopyEvent) => void;
}

export interface UnpackResult extends TransferResult {
  dir: string;
  /** False when the content was merged into a layout that existed. */
  created: boolean;
}

/** A layout directory to write into, and how to undo creating it. */
export interface PreparedLayout {
  layout: LayoutDir;
  created: boolean;
  rollback(): Promise<void>;
}

/**
 * Open `dir` as a layout, creating it (or initialising an empty directory)
 * when needed. With `createParents`, missing parent directories are created
 * too (pull's DST), and a rollback removes those again (only while empty).
 */
export async function prepareLayout(given: string, opts: { createParents?: boolean } = {}): Promise<PreparedLayout> {
  // Look at the directory that will be written: `nosuch/..` is looked up by the kernel (missing)
  // but written through path.join (the current directory), as LayoutDir normalises it too.
  const dir = path.normalize(given);
  let state: 'missing' | 'empty' | 'existing';
  try {
    const st = await fsp.stat(dir);
    state = st.isDirectory() && (await fsp.readdir(dir)).length === 0 ? 'empty' : 'existing';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(err, dir, 'directory');
    state = 'missing';
  }
  /** The parents this call creates, deepest first. */
  const parents: string[] = [];
  if (state === 'missing') {
    const parent = path.dirname(path.resolve(dir));
    if (opts.createParents) {
      for (let p = parent; !(await fsp.stat(p).catch(() => undefined)) && path.dirname(p) !== p; p = path.dirname(p)) parents.push(p);
    } else {
      // Only DIR itself is created: missing parents would be writes outside it that rollback could not undo.
      const st = await fsp.stat(parent).catch(() => undefined);
      if (!st?.isDirectory()) throw new OcikitError('NOT_FOUND', `cannot create ${dir}: its parent directory ${parent} does not exist`, { path: dir });
    }
  }
  const layout = await LayoutDir.init(dir);
  const rollback = async () => {
    if (state === 'missing') {
      await fsp.rm(dir, { recursive: true, force: true });
      // rmdir, not rm: a parent that something else has meanwhile been put into stays.
      for (const p of parents) if (!(await fsp.rmdir(p).then(() => true, () => false))) break;
    } else if (state === 'empty') {
      for (const name of await fsp.readdir(dir)) await fsp.rm(path.join(dir, name), { recursive: true, force: true });
    }
  };
  return { layout, created: state !== 'existing', rollback };
}

export async function unpack(src: ReadTarget, ref: Reference, dir: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const selection = { everything: true, platform: opts.platform };
  const roots = await selectRoots(src, ref, selection);
  // The whole archive is copied as it lists itself; for one selected image, its referrers come along.
  const referrers = !selectsWholeLayout(src, ref, selection);
  return intoLayout(dir, (layout) => transfer(src, layout, roots, { concurrency: opts.concurrency, referrers, onEvent: opts.onEvent, announce: true }));
}

export interface UnpackStreamOptions extends TarStreamOptions {
  onEvent?: (e: CopyEvent) => void;
}

/**
 * `unpack -` (an archive on stdin) and `unpack FILE.tar.gz`: the whole
 * archive in one pass, without a temp file. Its blobs go into the layout's
 * blob store as they stream past (targets/streamed-layout.ts); then the same
 * transfer as unpack's finds every blob present and writes index.json, once,
 * last, under the lock. On failure the same rules hold as for unpack.
 */
export async function unpackStream(input: Readable, dir: string, opts: UnpackStreamOptions): Promise<UnpackResult> {
  return intoLayout(dir, async (layout) => {
    let bytesCopied = 0;
    const arrived = opts.onEvent ? arrivedBlobReporter(opts.onEvent) : undefined;
    const onBlob = (d: Descriptor, stored: boolean) => {
      if (stored) bytesCopied += d.size;
      arrived?.(d);
    };
    const src = await StreamedLayout.read(input, { source: opts.source, compressedSize: opts.compressedSize, into: layout, onBlob });
    const roots = await selectRoots(src, { kind: 'layout-archive', path: opts.source, original: opts.source }, { everything: true });
    const result = await transfer(src, layout, roots, { referrers: false, onEvent: opts.onEvent });
    return { ...result, bytesCopied: bytesCopied + result.bytesCopied };
  });
}

/** Run `write` on the layout at `dir` (created when needed), undoing the creation when it fails. */
async function intoLayout(dir: string, write: (layout: LayoutDir) => Promise<TransferResult>): Promise<UnpackResult> {
  const prepared = await prepareLayout(dir);
  try {
    return { ...(await write(prepared.layout)), dir, created: prepared.created };
  } catch (err) {
    await prepared.rollback().catch(() => undefined);
    throw err;
  } finally {
    await prepared.layout.close(); // release the write lease, as copy does
  }
}
