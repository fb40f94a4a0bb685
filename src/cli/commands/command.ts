import type { Argv } from 'yargs';
import type { Context } from '../context.js';
import type { Format } from '../format.js';

/** One CLI command: its yargs shape and a handler that works through the library only. */
export interface CommandSpec<A = Record<string, unknown>> {
  command: string;
  describe: string;
  builder?: (y: Argv) => Argv;
  handler: (args: A, ctx: Context) => Promise<void>;
  /** A command group (`manifest fetch`, `blob push`): the group's own handler never runs. */
  subcommands?: CommandSpec[];
  /** Values --format accepts (default text, json). */
  formats?: Format[];
  /** `-o/--output` names a file or directory this command writes (oras's model); elsewhere it is the deprecated format flag. */
  outputIsPath?: boolean;
  /** Two real invocations for --help: [command line, what it does]. */
  examples?: Array<[string, string]>;
  /** The command handles SIGINT and SIGTERM itself (serve shuts down gracefully); the CLI's handler (cli/signals.ts) stays out. */
  handlesSignals?: boolean;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec {
  return spec as unknown as CommandSpec;
}

/**
 * What the help of every write verb says of archives: an archive is one
 * file, so a change to it is a new archive replacing the old one.
 */
export const ARCHIVE_REWRITTEN = 'an archive (oci-archive:FILE) is rewritten: a new archive, every blob and entry of the old one kept, renamed over it once complete';
