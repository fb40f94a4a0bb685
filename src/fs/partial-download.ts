/**
 * Blob downloads that survive an interruption. A download into a layout is
 * written to a temp file of this process in the layout root, as every blob
 * is (fs/temp-files.ts); when it cannot finish (Ctrl-C or SIGTERM, a
 * registry that goes quiet or drops the connection), the bytes it has are
 * kept under a name of the blob, `.ocikit-partial-<alg>-<hex>`, instead of
 * being removed. The next download of that blob into the layout takes the
 * partial file over and asks the source only for the rest (HTTP
 * `Range: bytes=N-`).
 *
 * - Taking over is a rename of the partial file to a temp name of this
 *   process: of two processes that want the same partial, exactly one gets
 *   it (the other starts from the beginning), and gc, which removes partial
 *   files, never sees one in use.
 * - The kept bytes are not trusted: they are hashed first, and the whole blob
 *   is verified against its digest and size before it is renamed into place,
 *   as every blob is. A resumed blob that does not verify is downloaded once
 *   more from its start (the kept bytes may have been the wrong ones); a
 *   source that cannot resume (it answers the whole blob) starts over too.
 * - Bytes that failed verification are never kept.
 * - The hardening rules hold: the partial file lives in the layout root (the
 *   directory the user chose), is taken only when it is a regular file (a
 *   symlink or anything else of that name is left alone), and is opened
 *   without following symlinks.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Hash } from 'node:crypto';
import { createDigestHash, parseDigest } from '../digest/digest.js';
import { VerifyStream } from '../digest/verify-stream.js';
import { IntegrityError, isOcikitError, OcikitError, fromFsError } from '../errors.js';
import { FLUSH_EVERY, fsyncDir, tempPathFor } from './atomic.js';
import { FileSink } from './byte-sink.js';
import { trackTempFile, untrackTempFile } from './temp-files.js';

const PARTIAL_NAME = /^\.ocikit-partial-([a-z0-9]+)-([0-9a-f]+)$/;
const WRITE_BUFFER = 1024 * 1024;

/** The name a partial download of `digest` is kept under, in the layout root. */
export function partialFileName(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `.ocikit-partial-${algorithm}-${encoded}`;
}

export function isPartialFileName(name: string): boolean {
  return PARTIAL_NAME.test(name);
}

/** The rest of a blob as a source sends it (graph/target.ts's RestOfBlob, which fs cannot import). */
interface RestOfBlob {
  start: number;
  body: Readable;
}

export interface ResumableDownload {
  /** The layout root: partial and temp files live there. */
  dir: string;
  desc: { digest: string; size: number };
  /** The blob's final path. */
  dest: string;
  /** Open the blob at byte `offset` (0: the whole blob). */
  fetchFrom: (offset: number) => Promise<RestOfBlob>;
}

/**
 * Download `desc` into `dest`, resuming a partial download of it kept in
 * `dir`. Returns how many bytes were resumed (taken from the partial file,
 * not downloaded). On failure nothing is left under `dest`; the bytes got so
 * far are kept as the partial file unless they failed verification.
 */
export async function downloadResumable(d: ResumableDownload): Promise<{ resumedBytes: number }> {
  const partial = path.join(d.dir, partialFileName(d.desc.digest));
  const tmp = tempPathFor(d.dest, d.dir);
  // From here on a signal keeps what the temp file holds as the partial file, instead of removing it.
  trackTempFile(tmp, partial);
  try {
    const kept = await takeOver(partial, tmp, d.desc.size);
    let resumedBytes: number;
    try {
      resumedBytes = await fill(tmp, kept, d);
    } catch (err) {
      // The kept bytes may be what is wrong (another blob's, damaged on disk): once more from the start.
      if (kept === 0 || !(err instanceof IntegrityError)) throw err;
      resumedBytes = await fill(tmp, 0, d);
    }
    await fsp.rename(tmp, d.dest);
    await fsyncDir(path.dirname(d.dest));
    return { resumedBytes };
  } catch (err) {
    await keepOrRemove(tmp, partial, err);
    throw err;
  } finally {
    untrackTempFile(tmp);
  }
}

/**
 * Rename the partial file of the blob to `tmp` and return its size, or create
 * `tmp` empty and return 0 when there is none to take (none, taken by another
 * process meanwhile, not a regular file, or not shorter than the blob).
 */
async function takeOver(partial: string, tmp: string, size: number): Promise<number> {
  try {
    const st = await fsp.lstat(partial);
    if (st.isFile()) {
      await fsp.rename(partial, tmp);
      // Not shorter than the blob: not a prefix of it. Emptied below and reused as the temp file.
      return st.size < size ? st.size : 0;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromFsError(err, partial, 'partial download');
  }
  const fh = await fsp.open(tmp, 'wx', 0o644).catch((err: unknown) => {
    throw fromFsError(err, path.dirname(tmp), 'the directory', 'writing to');
  });
  await fh.close();
  return 0;
}

/** Hash the first `kept` bytes of `tmp`, fetch the rest, append it verified; returns the bytes resumed. */
async function fill(tmp: string, kept: number, d: ResumableDownload): Promise<number> {
  const fh = await fsp.open(tmp, fsc.O_RDWR | fsc.O_NOFOLLOW).catch((err: unknown) => {
    throw fromFsError(err, tmp, 'partial download');
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new OcikitError('UNSAFE_BLOB_PATH', `partial download ${tmp} is not a regular file`, { path: tmp });
    const algorithm = parseDigest(d.desc.digest).algorithm;
    let start = Math.min(kept, st.size);
    let hash: Hash | undefined;
    if (start > 0) hash = await hashPrefix(fh, start, createDigestHash(algorithm));
    const rest = await d.fetchFrom(start);
    if (rest.start !== start) {
      // The source sent the whole blob: the kept bytes are of no use.
      start = 0;
      hash = undefined;
    }
    await fh.truncate(start);
    const verify = new VerifyStream({ digest: d.desc.digest, size: d.desc.size, source: `download of ${d.desc.digest}` }, hash ? { hash, bytes: start } : undefined);
    const sink = new FileSink(fh, { flushEvery: FLUSH_EVERY, start });
    await pipeline(rest.body, verify, sink.asWritable(WRITE_BUFFER));
    await sink.end();
    await fh.sync();
    return start;
  } finally {
    await fh.close();
  }
}

async function hashPrefix(fh: fsp.FileHandle, bytes: number, hash: Hash): Promise<Hash> {
  const buf = Buffer.allocUnsafe(Math.min(bytes, WRITE_BUFFER));
  for (let pos = 0; pos < bytes; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
    if (bytesRead === 0) throw new OcikitError('SIZE_MISMATCH', `partial download ended at byte ${pos} of the ${bytes} kept`);
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash;
}

/** After a failure: keep the bytes got so far as the partial file, unless they are known to be wrong. */
async function keepOrRemove(tmp: string, partial: string, err: unknown): Promise<void> {
  const wrong = err instanceof IntegrityError || isOcikitError(err, 'UNSAFE_BLOB_PATH');
  const size = await fsp
    .lstat(tmp)
    .then((st) => (st.isFile() ? st.size : 0))
    .catch(() => 0);
  if (!wrong && size > 0) {
    try {
      await fsp.rename(tmp, partial);
      return;
    } catch {
      // Fall through: remove it.
    }
  }
  await fsp.rm(tmp, { force: true });
}
