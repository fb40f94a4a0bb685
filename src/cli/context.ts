/** What every command handler gets: parsed global flags, output, and helpers to open targets. */
import {
  openReadTarget,
  openWriteTarget,
  openLayoutDir,
  parseReference,
  parsePlatform,
  type Platform,
  type ReadTarget,
  type Reference,
  type WriteTarget,
  type LayoutDir,
} from '../index.js';
import { Output } from './output.js';

export interface GlobalArgs {
  output?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
  debug?: boolean;
  'oci-layout'?: boolean;
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  username?: string;
  'password-stdin'?: boolean;
  'registry-config'?: string;
}

function isLayoutDir(t: unknown): t is LayoutDir {
  return typeof (t as Partial<LayoutDir>).close === 'function' && typeof (t as Partial<LayoutDir>).updateIndex === 'function';
}

export class Context {
  readonly args: GlobalArgs;
  readonly out: Output;
  /** Layouts opened for writing: their write leases are released when the command ends. */
  private readonly opened: LayoutDir[] = [];

  constructor(args: GlobalArgs, streams: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream } = {}) {
    this.args = args;
    this.out = new Output({ json: args.output === 'json' || args.json === true, quiet: args.quiet === true, ...streams });
  }

  ref(input: string): Reference {
    return parseReference(input, { ociLayout: this.args['oci-layout'] === true });
  }

  async openRead(input: string): Promise<{ ref: Reference; target: ReadTarget }> {
    const ref = this.ref(input);
    return { ref, target: await openReadTarget(ref) };
  }

  async openWrite(input: string, create = false): Promise<{ ref: Reference; target: WriteTarget }> {
    const ref = this.ref(input);
    const target = await openWriteTarget(ref, { create });
    if (isLayoutDir(target)) this.opened.push(target);
    return { ref, target };
  }

  async openLayout(input: string, create = false): Promise<{ ref: Reference; layout: LayoutDir }> {
    const ref = this.ref(input);
    const layout = await openLayoutDir(ref, { create });
    this.opened.push(layout);
    return { ref, layout };
  }

  async close(): Promise<void> {
    await Promise.all(this.opened.map((l) => l.close()));
  }

  platform(value: unknown): Platform | undefined {
    return typeof value === 'string' && value.length > 0 ? parsePlatform(value) : undefined;
  }
}
