/**
 * One verification per stored blob, shared by every download of it.
 *
 * serve used to hash every byte it sent: eight clients pulling one 512 MiB
 * layer meant 4 GiB hashed on the one main thread, which was most of why it
 * trailed distribution under load (bench/serve-load.mjs, issue 18). Now the
 * first download of a blob file (or archive entry) starts its verification:
 * a read of the file of its own, at the disk's pace rather than a client's.
 * Every download, that first one too, sends without hashing and waits for
 * the verdict before its last chunk, so a blob that does not match its
 * digest still reaches no client whole.
 *
 * A verdict holds for one version of the file, known by its device, inode,
 * size, modification and change times (and for an archive entry, where in
 * the archive it is): writing to the file or putting another file under its
 * name changes one of them, and the next download verifies again. A failed
 * verification is not kept: the next download tries again.
 */
import fs from 'node:fs';
import { copyVerifiedRange, type FileRange } from '../fs/file-range.js';
import type { VerifyExpectation } from '../digest/verify-stream.js';
import { limiter } from '../util/limit.js';

/** Verdicts kept (the oldest is forgotten first): a few hundred bytes each. */
const KEPT_VERDICTS = 4096;

/**
 * Verifications reading at once. A verification goes on after the download
 * that started it has gone (its verdict serves the next one), so without a
 * bound a client that asks for many large blobs and hangs up at once would
 * have the server read them all at the same time, 3 MiB of buffers each.
 */
const CONCURRENT_VERIFICATIONS = 4;

/** The verification read another version of the file than the download has open: the download checks its own bytes. */
class AnotherVersion extends Error {}

interface Verdict {
  version: string;
  settled: Promise<void>;
}

export class VerifiedBlobs {
  private readonly verdicts = new Map<string, Verdict>();
  private readonly reading = limiter(CONCURRENT_VERIFICATIONS);

  /**
   * The check a download of `range` hands to copyVerifiedRange
   * (`verifiedElsewhere`): it settles with the shared verification of this
   * version of the file, started now if none is under way or done.
   * `reopen` opens the blob again, for the verification to read on its own.
   */
  async checkFor(range: FileRange, expected: VerifyExpectation, reopen: () => Promise<FileRange | undefined>): Promise<() => Promise<void>> {
    const version = await versionOf(range);
    let verdict = this.verdicts.get(expected.digest);
    if (verdict?.version !== version) verdict = this.start(expected, version, reopen);
    const { settled } = verdict;
    return async () => {
      try {
        await settled;
      } catch (err) {
        if (!(err instanceof AnotherVersion)) throw err;
        // The file was replaced between the two opens: hash what this download has open itself.
        await copyVerifiedRange({ ...range, release: undefined, onBytes: undefined }, expected, async () => undefined);
      }
    };
  }

  private start(expected: VerifyExpectation, version: string, reopen: () => Promise<FileRange | undefined>): Verdict {
    const settled = this.reading(async () => {
      const own = await reopen();
      if (!own) throw new AnotherVersion();
      if ((await versionOf(own).catch(() => undefined)) !== version) {
        await own.release?.();
        throw new AnotherVersion();
      }
      await copyVerifiedRange(own, expected, async () => undefined);
    });
    const verdict = { version, settled };
    this.verdicts.delete(expected.digest);
    this.verdicts.set(expected.digest, verdict);
    if (this.verdicts.size > KEPT_VERDICTS) this.verdicts.delete(this.verdicts.keys().next().value!);
    // Also keeps a failure nobody waits for yet from counting as unhandled.
    settled.catch(() => {
      if (this.verdicts.get(expected.digest) === verdict) this.verdicts.delete(expected.digest);
    });
    return verdict;
  }
}

/** What tells one version of a file (and place in it) from another. */
async function versionOf(range: FileRange): Promise<string> {
  const st = await new Promise<fs.BigIntStats>((resolve, reject) => fs.fstat(range.fd, { bigint: true }, (err, s) => (err ? reject(err) : resolve(s))));
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${range.start}+${range.size}`;
}
