/**
 * The ocikit command line: yargs wiring, global flags, and the one place
 * where typed errors become exit statuses (0 ok, 1 failed, 2 usage).
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { OcikitError, UsageError } from '../index.js';
import { Context, type GlobalArgs } from './context.js';
import { commands } from './commands/index.js';
import type { CommandSpec } from './commands/command.js';

const USAGE_CODES = new Set(['USAGE', 'INVALID_REFERENCE']);

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function exitCodeFor(err: unknown): number {
  return err instanceof OcikitError && USAGE_CODES.has(err.code) ? 2 : 1;
}

export interface RunOptions {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Build the parser. Handlers register their work in `pending` so main can await it and map errors. */
function buildParser(argv: string[], opts: RunOptions, pending: Array<Promise<void>>): Argv {
  let parser: Argv = yargs(argv)
    .scriptName('ocikit')
    .usage('$0 <command> [options]\n\nOffline OCI image layouts: archives, artifacts with subjects, referrers, registry transfer.')
    .option('output', { type: 'string', describe: 'output format: json or text (discover: tree, table, json)' })
    .option('json', { type: 'boolean', describe: 'alias of --output json' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only results' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress on stderr when it is a TTY (--no-progress turns it off)' })
    .option('debug', { type: 'boolean', describe: 'stack traces and request logs (never credentials)' })
    .option('oci-layout', { type: 'boolean', describe: 'treat a bare reference as a layout directory' })
    .option('plain-http', { type: 'boolean', describe: 'talk plain HTTP to registries' })
    .option('insecure', { type: 'boolean', describe: 'skip TLS verification' })
    .option('ca-file', { type: 'string', describe: 'trust this CA certificate file' })
    .option('username', { alias: 'u', type: 'string', describe: 'registry user name' })
    .option('password-stdin', { type: 'boolean', describe: 'read the registry password from stdin' })
    .option('registry-config', { type: 'string', describe: 'docker config.json with credentials' })
    .group(['output', 'json', 'quiet', 'progress', 'debug', 'oci-layout', 'plain-http', 'insecure', 'ca-file', 'username', 'password-stdin', 'registry-config'], 'Global options:')
    .strict()
    .demandCommand(1, 'say which command to run; see ocikit --help')
    .recommendCommands()
    .version(version())
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err instanceof OcikitError ? err : new UsageError(msg ?? err?.message ?? 'invalid command line');
    });
  const register = (y: Argv, cmd: CommandSpec): Argv =>
    y.command({
      command: cmd.command,
      describe: cmd.describe,
      builder: (sub: Argv) => {
        let b = cmd.builder ? cmd.builder(sub) : sub;
        if (cmd.subcommands) {
          for (const child of cmd.subcommands) b = register(b, child);
          b = b.demandCommand(1, `say which: ${cmd.subcommands.map((c) => c.command.split(' ')[0]).join(', ')}`);
        }
        return b;
      },
      handler: (args: Record<string, unknown>) => {
        if (cmd.subcommands) return;
        const formats = cmd.outputFormats ?? ['json', 'text'];
        if (typeof args.output === 'string' && !formats.includes(args.output)) {
          throw new UsageError(`--output takes ${formats.join(', ')}; got "${args.output}"`);
        }
        const ctx = new Context(args as GlobalArgs, opts);
        pending.push(cmd.handler(args, ctx).finally(() => ctx.close()));
      },
    });
  for (const cmd of commands) parser = register(parser, cmd);
  return parser;
}

/** Run the CLI; returns the exit status (and sets process.exitCode when run from the shim). */
export async function main(argv: string[], opts: RunOptions = {}): Promise<number> {
  const stderr = opts.stderr ?? process.stderr;
  const debug = argv.includes('--debug');
  const pending: Array<Promise<void>> = [];
  let status = 0;
  try {
    await buildParser(argv, opts, pending).parseAsync();
    await Promise.all(pending);
  } catch (err) {
    status = exitCodeFor(err);
    reportError(err, stderr, debug);
  }
  if (opts.stdout === undefined) process.exitCode = status;
  return status;
}

function reportError(err: unknown, stderr: NodeJS.WritableStream, debug: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`ocikit: ${oneLine(message)}\n`);
  if (err instanceof OcikitError && err.hint) stderr.write(`hint: ${oneLine(err.hint)}\n`);
  if (err instanceof OcikitError && err.code === 'USAGE' && !err.hint) stderr.write('hint: see ocikit --help\n');
  if (debug && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}
