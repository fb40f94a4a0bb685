/**
 * The ocikit command line: yargs wiring, global flags, and the one place
 * where typed errors become exit statuses (0 ok, 1 failed, 2 usage).
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { OcikitError, UsageError } from '../index.js';
import { Context, isUsageOrigin, type GlobalArgs } from './context.js';
import { commands } from './commands/index.js';
import type { CommandSpec } from './commands/command.js';
import { exitOnSignalsRemovingTempFiles } from './signals.js';
import { networkFlags } from './registry-options.js';

const USAGE_CODES = new Set(['USAGE', 'INVALID_REFERENCE']);

/**
 * yargs re-parses positionals as `--name value`, and a lone `-` there reads
 * as a flag, so `blob push DIR -` would get `true` instead of "-". The
 * argument is swapped for this token before parsing and swapped back in
 * every value a handler sees.
 */
const DASH = '\u2063ocikit-stdin\u2063';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function exitCodeFor(err: unknown): number {
  return err instanceof OcikitError && (USAGE_CODES.has(err.code) || isUsageOrigin(err)) ? 2 : 1;
}

export interface RunOptions {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Build the parser. Handlers register their work in `pending` so main can await it and map errors. */
function buildParser(argv: string[], opts: RunOptions, pending: Array<Promise<void>>, contexts: Context[]): Argv {
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
    .option('timeout', { type: 'string', describe: 'registries: give up on connecting, or on a connection silent, for SECONDS (default 30)' })
    .option('retries', { type: 'string', describe: 'registries: retries of a failed idempotent request, with backoff (default 4; 0: one try)' })
    .group(['output', 'json', 'quiet', 'progress', 'debug', 'oci-layout', 'plain-http', 'insecure', 'ca-file', 'username', 'password-stdin', 'registry-config', 'timeout', 'retries'], 'Global options:')
    // Tags such as 10 or 007, and layout directories named 2024, are strings, not numbers.
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
    .strict()
    .demandCommand(1, 'say which command to run; see ocikit --help')
    .recommendCommands()
    .version(version())
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err instanceof OcikitError) throw err;
      const text = restoreDash(msg ?? err?.message ?? 'invalid command line');
      // yargs says only "Did you mean X?" for a mistyped command; name the word it did not know.
      const suggestion = /^Did you mean (.+)\?$/.exec(text);
      if (suggestion) throw new UsageError(`unknown command "${unknownCommandWord(argv)}"`, { hint: `did you mean ${suggestion[1]}? (see ocikit --help)` });
      throw new UsageError(text);
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
      handler: (parsed: Record<string, unknown>) => {
        if (cmd.subcommands) return;
        const args = restoreDashes(parsed);
        if (Array.isArray(args.output)) throw new UsageError(`--output is given ${args.output.length} times; give it once`);
        const formats = cmd.outputFormats ?? ['json', 'text'];
        if (typeof args.output === 'string' && !formats.includes(args.output)) {
          throw new UsageError(`--output takes ${formats.join(', ')}; got "${args.output}"`);
        }
        // Checked for every command, not only when one reaches a registry: a bad value is a mistake wherever it is given.
        networkFlags(args as GlobalArgs);
        const ctx = new Context(args as GlobalArgs, opts);
        contexts.push(ctx);
        if (opts.stdout === undefined && !cmd.handlesSignals) exitOnSignalsRemovingTempFiles(opts.stderr ?? process.stderr);
        pending.push(cmd.handler(args, ctx).finally(() => ctx.close()));
      },
    });
  for (const cmd of commands) parser = register(parser, cmd);
  skipHelpCache(parser);
  return parser;
}

/** Run the CLI; returns the exit status (and sets process.exitCode when run from the shim). */
export async function main(argv: string[], opts: RunOptions = {}): Promise<number> {
  const stderr = opts.stderr ?? process.stderr;
  const debug = argv.includes('--debug');
  const pending: Array<Promise<void>> = [];
  const contexts: Context[] = [];
  if (opts.stdout === undefined) endQuietlyWhenStdoutCloses();
  let status = 0;
  try {
    await buildParser(argv.map((a) => (a === '-' ? DASH : a)), opts, pending, contexts).parseAsync();
    await Promise.all(pending);
  } catch (err) {
    status = exitCodeFor(err);
    reportError(err, stderr, debug);
    // With --output json, stdout still carries one document: the error, with its stable code,
    // unless the command already printed its result (ls lists what it could read, then fails).
    if (wantsJson(argv) && !contexts.some((c) => c.out.wroteResult)) {
      (opts.stdout ?? process.stdout).write(`${JSON.stringify({ error: errorFacts(err, status) }, null, 2)}\n`);
    }
  }
  if (opts.stdout === undefined) process.exitCode = status;
  return status;
}

/**
 * `ocikit ls big-layout | head`: once the reader has gone, a write to stdout
 * fails with EPIPE, which Node would report as an unhandled 'error' event and
 * a stack trace. Exit at once instead, with 141 (128 + SIGPIPE), what a shell
 * shows for any program stopped by a closed pipe: nobody is reading, and a
 * script with `pipefail` still learns that the output was cut short.
 */
function endQuietlyWhenStdoutCloses(): void {
  if (process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    process.stderr.write(`ocikit: cannot write to standard output: ${err.message}\n`);
    process.exit(1);
  });
}

function reportError(err: unknown, stderr: NodeJS.WritableStream, debug: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`ocikit: ${oneLine(message)}\n`);
  if (err instanceof OcikitError && err.hint) stderr.write(`hint: ${oneLine(err.hint)}\n`);
  if (err instanceof OcikitError && err.code === 'USAGE' && !err.hint) stderr.write('hint: see ocikit --help\n');
  if (debug && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
}

/**
 * yargs renders the complete help text after every command, to have it ready
 * should the command fail; ocikit never prints help on failure (it prints one
 * error line), and the rendering was a quarter of the start-up time of every
 * command. `--help` itself renders afresh and is not affected.
 */
function skipHelpCache(parser: Argv): void {
  const internals = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: unknown } } }).getInternalMethods?.();
  const usage = internals?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/** The first word of argv that is neither a flag nor the name of a command or subcommand. */
function unknownCommandWord(argv: string[]): string {
  const names = new Set<string>();
  const collect = (cmds: CommandSpec[]) => cmds.forEach((c) => (names.add(c.command.split(' ')[0]!), collect(c.subcommands ?? [])));
  collect(commands);
  return argv.find((a) => !a.startsWith('-') && !names.has(a)) ?? '';
}

function restoreDash(s: string): string {
  return s.split(DASH).join('-');
}

function restoreDashes(args: Record<string, unknown>): Record<string, unknown> {
  const fix = (v: unknown): unknown => (v === DASH ? '-' : Array.isArray(v) ? v.map(fix) : v);
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, fix(v)]));
}

/** Whether the command line asks for JSON output, read from argv itself so that it also holds when parsing failed. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end >= 0 ? argv.slice(0, end) : argv;
  return flags.some((a, i) => a === '--json' || a === '--json=true' || a === '--output=json' || (a === '--output' && flags[i + 1] === 'json'));
}

function errorFacts(err: unknown, exitCode: number): Record<string, unknown> {
  const facts: Record<string, unknown> = { code: err instanceof OcikitError ? err.code : 'INTERNAL', message: oneLine(err instanceof Error ? err.message : String(err)), exitCode };
  if (err instanceof OcikitError) {
    for (const k of ['hint', 'path', 'digest', 'expected', 'actual'] as const) if (err[k] !== undefined) facts[k] = err[k];
  }
  return facts;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}
