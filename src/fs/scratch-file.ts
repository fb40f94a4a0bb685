/**
 * A scratch file: small pieces of bytes set aside on disk and read back
 * later by their place, for a writer that must hold many of them until it
 * ends (an archive writer holds every manifest back until its commit, and a
 * layout of 50,000 manifests made that 50 MiB of memory).
 *
 * The file is created in a directory of the caller's choice and unlinked as
 * soon as it is open: it has no name, so nothing is left behind however the
 * process ends, and its space is freed when it is closed.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fromFsError } from '../errors.js';
import { tempFileName, trackTempFile, untrackTempFile } from './temp-files.js';

/** Where a piece was put. */
export interface ScratchPlace {
  offset: number;
  size: number;
}

export class ScratchFile {
  private handle?: Promise<fsp.FileHandle>;
  private end = 0;

  constructor(private readonly dir: string) {}

  /** Put `bytes` aside; concurrent calls each get their own place. */
  async append(bytes: Uint8Array): Promise<ScratchPlace> {
    const place = { offset: this.end, size: bytes.length };
    // Reserved before the first await: pieces written at once never overlap.
    this.end += bytes.length;
    const fh = await this.open();
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, place.offset + done);
      done += bytesWritten;
    }
    return place;
  }

  async read(place: ScratchPlace): Promise<Buffer> {
    const fh = await this.open();
    const bytes = Buffer.allocUnsafe(place.size);
    let done = 0;
    while (done < place.size) {
      const { bytesRead } = await fh.read(bytes, done, place.size - done, place.offset + done);
      if (bytesRead === 0) throw fromFsError(Object.assign(new Error('scratch file ended early'), { code: 'EIO' }), this.dir, 'scratch file');
      done += bytesRead;
    }
    return bytes;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.end = 0;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }

  private open(): Promise<fsp.FileHandle> {
    this.handle ??= (async () => {
      const file = path.join(this.dir, tempFileName('tmp'));
      // Named only between the open and the unlink: a Ctrl-C there still removes it.
      trackTempFile(file);
      try {
        const fh = await fsp.open(file, 'wx+', 0o600);
        await fsp.rm(file, { force: true });
        return fh;
      } catch (err) {
        throw fromFsError(err, this.dir, 'directory for a scratch file');
      } finally {
        untrackTempFile(file);
      }
    })();
    return this.handle;
  }
}
