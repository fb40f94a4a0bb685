/**
 * Writing a `docker save` archive in the format every `docker load` reads
 * (Docker 1.10 to today, and skopeo's docker-archive:): `manifest.json`
 * (`[{Config, RepoTags, Layers}]`), each config as `<hex>.json` (its digest
 * is the image ID), each layer as an uncompressed tar `<diff_id hex>/layer.tar`,
 * and `repositories` (`{name: {tag: top layer id}}`), which pre-manifest.json
 * loaders read and later ones ignore.
 *
 * Layers go in uncompressed, as `docker save` and skopeo write them: an OCI
 * image's layers are usually gzip or zstd, so the caller hands each one over
 * decompressed, and this writer hashes the bytes as they go into the file
 * and refuses the archive unless they hash to the `diff_id` the config
 * names, which is what `docker load` checks. The uncompressed size is known
 * only at the end of a layer, while a tar header carries it up front: the
 * header is written with size 0 and rewritten in place once the layer has
 * gone by (the output is a file, so nothing is buffered; memory stays flat
 * whatever the layer size).
 *
 * Reproducible: entries in the order they are added, one mtime
 * (SOURCE_DATE_EPOCH, else 0), mode 0644/0755, uid/gid 0, no user names,
 * JSON written with a fixed key order. Atomic: a temporary file beside the
 * destination, renamed into place by `commit()`; a failure, `abort()` or a
 * signal (fs/temp-files.ts) removes it. An existing destination is never
 * lost: without `overwrite` it is refused before anything is written, and
 * if one appears meanwhile the commit refuses too instead of replacing it.
 *
 * One call at a time: entries are written as they are called for.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { OcikitError, UsageError } from '../errors.js';
import { createDigestHash, parseDigest } from '../digest/digest.js';
import { digestMismatch, verifyBytes } from '../digest/verify-stream.js';
import { FLUSH_EVERY, fsyncDir, renameIfAbsent, tempPathFor } from '../fs/atomic.js';
import { FileSink } from '../fs/byte-sink.js';
import { checkOutputFile } from '../fs/output-file.js';
import { removeLeftoverTempFiles, trackTempFile, untrackTempFile } from '../fs/temp-files.js';
import { TAR_TRAILER, encodeTarHeader, paddingFor } from '../archive/tar-header.js';
import { sourceDateEpoch } from './archive-writer.js';

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

export interface DockerArchiveWriterOptions {
  /** mtime of every entry, in seconds since the epoch (default: SOURCE_DATE_EPOCH, else 0). */
  mtime?: number;
  /** Replace a file already at the destination (never a directory); by default it is refused with ALREADY_EXISTS. */
  overwrite?: boolean;
}

/** One image of manifest.json. */
export interface DockerArchiveImage {
  /** The config document: its digest (the image ID) and its exact bytes. */
  config: { digest: string; bytes: Buffer };
  /** The config's `rootfs.diff_ids`, in order; each must have been written with writeLayer. */
  diffIds: readonly string[];
  /** Docker names (`name:tag`); none gives `RepoTags: null`, as `docker save IMAGE_ID` writes. */
  repoTags: readonly string[];
}

interface ManifestItem {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

export class DockerArchiveWriter {
  readonly description: string;
  /** Uncompressed layer bytes written. */
  bytes = 0;
  private readonly sink: FileSink;
  private readonly mtime: number;
  private readonly layers = new Set<string>();
  private readonly configs = new Set<string>();
  private readonly items: ManifestItem[] = [];
  /** name -> tag -> id of the image's top layer, as `docker save` writes `repositories`. */
  private readonly repositories = new Map<string, Map<string, string>>();
  private state: 'open' | 'committed' | 'aborted' = 'open';

  private constructor(
    private readonly dest: string,
    private readonly tmp: string,
    private readonly handle: fsp.FileHandle,
    private readonly overwrite: boolean,
    mtime: number,
  ) {
    this.description = `docker archive ${dest}`;
    this.mtime = mtime;
    this.sink = new FileSink(handle, { flushEvery: FLUSH_EVERY });
  }

  /** Start an archive at `dest`; checks the destination before anything is read or written. */
  static async toFile(dest: string, opts: DockerArchiveWriterOptions = {}): Promise<DockerArchiveWriter> {
    const mtime = opts.mtime ?? sourceDateEpoch();
    await DockerArchiveWriter.check(dest, opts);
    // A copy killed with SIGKILL left its partial archive here; nothing will ever rename it.
    await removeLeftoverTempFiles(path.dirname(dest), 'tmp');
    const tmp = tempPathFor(dest);
    trackTempFile(tmp);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(tmp, 'wx', FILE_MODE);
    } catch (err) {
      untrackTempFile(tmp);
      throw new OcikitError('IO_ERROR', `cannot write a docker archive to ${dest}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path: dest, cause: err });
    }
    return new DockerArchiveWriter(dest, tmp, handle, opts.overwrite === true, mtime);
  }

  /**
   * Whether an archive can be written at `dest`: its directory exists and is
   * writable, and nothing is there (or, with `overwrite`, a regular file).
   * For callers that check before they read a source; toFile checks again.
   */
  static async check(dest: string, opts: Pick<DockerArchiveWriterOptions, 'overwrite'> = {}): Promise<void> {
    await checkOutputFile(dest, 'a docker archive');
    if (!opts.overwrite && (await exists(dest))) throw alreadyExists(dest);
  }

  /** Whether the layer with this diff_id is in the archive already (images share layers; an image may repeat one). */
  hasLayer(diffId: string): boolean {
    return this.layers.has(diffId);
  }

  /**
   * Write a layer's uncompressed tar as `<hex>/layer.tar`, hashing it on the
   * way; it must hash to `diffId`, or the archive is given up.
   */
  async writeLayer(diffId: string, content: Readable): Promise<void> {
    try {
      this.assertOpen();
      const { algorithm, encoded } = parseDigest(diffId);
      if (this.layers.has(diffId)) {
        content.destroy();
        return;
      }
      await this.writeEntry(`${encoded}/`, undefined);
      const name = `${encoded}/layer.tar`;
      const headerAt = this.sink.offset;
      const placeholder = this.header(name, 0);
      await this.sink.write(placeholder);
      const hash = createDigestHash(algorithm);
      let size = 0;
      for await (const chunk of content) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        await this.sink.write(chunk as Buffer);
      }
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== diffId) throw digestMismatch({ digest: diffId, size, source: `the uncompressed layer ${diffId} (its config's diff_id)` }, actual);
      if (size % 512 !== 0) await this.sink.write(paddingFor(size));
      const header = this.header(name, size);
      // The same name always encodes to the same number of header blocks; only the size field differs.
      if (header.length !== placeholder.length) throw new OcikitError('IO_ERROR', `tar header for ${name} changed length`);
      await this.sink.rewrite(header, headerAt);
      this.layers.add(diffId);
      this.bytes += size;
    } catch (err) {
      content.destroy();
      await this.abort(err);
      throw err;
    }
  }

  /** List an image in manifest.json, writing its config unless an earlier image had the same one. */
  async addImage(image: DockerArchiveImage): Promise<void> {
    try {
      this.assertOpen();
      const { encoded } = parseDigest(image.config.digest);
      verifyBytes(image.config.bytes, { digest: image.config.digest, size: image.config.bytes.length, source: `config ${image.config.digest}` });
      for (const d of image.diffIds) {
        if (!this.layers.has(d)) throw new OcikitError('NOT_FOUND', `layer ${d} of image ${image.config.digest} was not written to ${this.description}`, { digest: d });
      }
      const configName = `${encoded}.json`;
      if (!this.configs.has(image.config.digest)) {
        await this.writeEntry(configName, image.config.bytes);
        this.configs.add(image.config.digest);
      }
      const layers = image.diffIds.map((d) => `${parseDigest(d).encoded}/layer.tar`);
      this.items.push({ Config: configName, RepoTags: image.repoTags.length > 0 ? [...image.repoTags] : null, Layers: layers });
      const top = image.diffIds.at(-1);
      if (top !== undefined) {
        for (const name of image.repoTags) {
          const { repository, tag } = splitDockerName(name);
          let tags = this.repositories.get(repository);
          if (!tags) this.repositories.set(repository, (tags = new Map()));
          tags.set(tag, parseDigest(top).encoded);
        }
      }
    } catch (err) {
      await this.abort(err);
      throw err;
    }
  }

  /** Write manifest.json and repositories, end the tar and move the file into place. */
  async commit(): Promise<void> {
    try {
      this.assertOpen();
      await this.writeEntry('manifest.json', Buffer.from(JSON.stringify(this.items)));
      if (this.repositories.size > 0) await this.writeEntry('repositories', Buffer.from(JSON.stringify(sortedRepositories(this.repositories))));
      await this.sink.write(TAR_TRAILER);
      await this.sink.end();
      await this.handle.sync();
      await this.handle.close();
      if (this.overwrite) await fsp.rename(this.tmp, this.dest);
      else if (!(await renameIfAbsent(this.tmp, this.dest))) throw alreadyExists(this.dest, 'appeared while the archive was written');
      untrackTempFile(this.tmp);
      this.state = 'committed';
      await fsyncDir(path.dirname(this.dest));
    } catch (err) {
      await this.abort(err);
      throw err;
    }
  }

  /** Give up: close and remove the temporary file. Safe to call more than once. */
  async abort(_reason?: unknown): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.handle.close().catch(() => undefined);
    await fsp.rm(this.tmp, { force: true });
    untrackTempFile(this.tmp);
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new OcikitError('IO_ERROR', `${this.description} is already ${this.state}`);
  }

  private header(name: string, size: number): Buffer {
    const isDirectory = name.endsWith('/');
    return encodeTarHeader({ name, type: isDirectory ? 'directory' : 'file', size, mode: isDirectory ? DIR_MODE : FILE_MODE, mtime: this.mtime });
  }

  /** A directory (content undefined) or a small file held in memory. */
  private async writeEntry(name: string, content: Buffer | undefined): Promise<void> {
    const size = content?.length ?? 0;
    await this.sink.write(this.header(name, size));
    if (content) {
      await this.sink.write(content);
      if (size % 512 !== 0) await this.sink.write(paddingFor(size));
    }
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

function alreadyExists(dest: string, how = 'exists'): OcikitError {
  return new OcikitError('ALREADY_EXISTS', `${dest} ${how}; a docker archive is written whole and not merged`, {
    path: dest,
    hint: 'give --overwrite to replace it, or name another file',
  });
}

/** `name:tag` split at the tag's colon (a host's port stays with the name); names come here with a tag. */
function splitDockerName(name: string): { repository: string; tag: string } {
  const colon = name.lastIndexOf(':');
  if (colon <= name.lastIndexOf('/')) throw new UsageError(`docker name ${JSON.stringify(name)} has no tag`);
  return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
}

/** `repositories` with names and tags in a fixed (sorted) order, so the bytes do not depend on the order images were added. */
function sortedRepositories(repos: Map<string, Map<string, string>>): Record<string, Record<string, string>> {
  return Object.fromEntries(
    [...repos.keys()].sort().map((name) => {
      const tags = repos.get(name)!;
      return [name, Object.fromEntries([...tags.keys()].sort().map((t) => [t, tags.get(t)!]))];
    }),
  );
}

