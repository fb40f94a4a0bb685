/** What every command handler gets: parsed global flags, output, and helpers to open targets. */
import {
  fromFsError,
  isOcikitError,
  OcikitError,
  readAll,
  UsageError,
  openReadTarget,
  openWriteTarget,
  openLayoutDir,
  openEditor,
  type Editor,
  parseReference,
  parsePlatform,
  type Platform,
  type ReadTarget,
  type Reference,
  type WriteTarget,
  type LayoutDir,
  type Leased,
  holdsLease,
  type RegistryOptions,
} from '../index.js';
import { registryOptions, type RegistryFlags } from './registry-options.js';
import { open, type FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { Output } from './output.js';
import type { Format } from './format.js';

export interface GlobalArgs extends RegistryFlags {
  format?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
  'oci-layout'?: boolean;
}

/** Errors that are usage errors because of where they came from (the command line), whatever their code. */
const usageOrigin = new WeakSet<object>();

export function isUsageOrigin(err: unknown): boolean {
  return typeof err === 'object' && err !== null && usageOrigin.has(err);
}

export class Context {
  readonly args: GlobalArgs;
  readonly out: Output;
  /** A status to exit with although nothing failed (`diff --exit-code` when the targets differ), as git diff does: no error line. */
  exitStatus = 0;
  /** Targets opened for writing: layouts' write leases are released, archive edits not committed dropped, when the command ends. */
  private readonly opened: Array<Pick<Leased, 'close'>> = [];

  /** `format` is the command's output format, chosen once from the flags (cli/format.ts). */
  constructor(args: GlobalArgs, streams: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream } = {}, format: Format = 'text') {
    this.args = args;
    this.out = new Output({ format, quiet: args.quiet === true, ...streams });
  }

  ref(input: string): Reference {
    try {
      return parseReference(input, { ociLayout: this.args['oci-layout'] === true });
    } catch (err) {
      // A malformed digest written on the command line is a malformed reference: the
      // invocation is wrong (exit 2). The error keeps its INVALID_DIGEST code.
      if (isOcikitError(err, 'INVALID_DIGEST')) usageOrigin.add(err);
      throw err;
    }
  }

  async openRead(input: string): Promise<{ ref: Reference; target: ReadTarget }> {
    const ref = this.ref(input);
    return { ref, target: await openReadTarget(ref, await this.registryOpen(ref)) };
  }

  async openWrite(input: string, create = false): Promise<{ ref: Reference; target: WriteTarget }> {
    const ref = this.ref(input);
    const target = await openWriteTarget(ref, { create, ...(await this.registryOpen(ref)) });
    if (holdsLease(target)) this.opened.push(target);
    return { ref, target };
  }

  async openLayout(input: string, create = false): Promise<{ ref: Reference; layout: LayoutDir }> {
    const ref = this.ref(input);
    const layout = await openLayoutDir(ref, { create });
    this.opened.push(layout);
    return { ref, layout };
  }

  /**
   * The Editor of a write verb's target (layout directory, registry; an
   * archive once it can be edited). The handler calls `editor.commit()` once
   * its edit is complete; close() runs whatever happens.
   */
  async openEditor(input: string, opts: { createArchive?: boolean } = {}): Promise<{ ref: Reference; editor: Editor }> {
    const ref = this.ref(input);
    const editor = await openEditor(ref, { ...opts, ...(await this.registryOpen(ref)) });
    this.opened.push(editor);
    return { ref, editor };
  }

  async close(): Promise<void> {
    await Promise.all(this.opened.map((l) => l.close()));
  }

  /**
   * FILE or `-` (stdin) as a stream. Regular files, FIFOs and devices are
   * fine (`<(cmd)` is a FIFO); a directory is a mistake in the command line.
   */
  async openInput(file: string): Promise<Readable> {
    if (file === '-') return process.stdin;
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw fromFsError(err, file, 'input file');
    }
    const st = await fh.stat();
    if (st.isDirectory()) {
      await fh.close();
      throw new UsageError(`${file} is a directory; give a file, or - for stdin`);
    }
    const source = fh.createReadStream();
    // Read errors reach whoever consumes the stream: give them the path and a code.
    const out = new PassThrough();
    source.on('error', (err) => out.destroy(fromFsError(err, file, 'input file')));
    out.on('close', () => source.destroy());
    return source.pipe(out);
  }

  /** FILE or `-` read whole, refused beyond `limit` bytes (manifests: 4 MiB) without reading further. */
  async readInput(file: string, limit: number): Promise<Buffer> {
    const input = await this.openInput(file);
    try {
      return await readAll(input, limit);
    } catch (err) {
      if (isOcikitError(err, 'MANIFEST_TOO_LARGE')) {
        throw new OcikitError('MANIFEST_TOO_LARGE', `${file === '-' ? 'stdin' : file} holds more than ${limit} bytes; manifests over ${limit} bytes are refused`, {
          path: file === '-' ? undefined : file,
          expected: limit,
        });
      }
      throw err;
    }
  }

  /** Registry references get the registry flags (TLS, credentials, --debug log); built once per command. */
  private async registryOpen(ref: Reference): Promise<{ registry?: RegistryOptions }> {
    return ref.kind === 'registry' ? { registry: await registryOptions(this) } : {};
  }

  platform(value: unknown): Platform | undefined {
    return typeof value === 'string' && value.length > 0 ? parsePlatform(value) : undefined;
  }
}
