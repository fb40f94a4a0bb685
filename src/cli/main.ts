/**
 * The ocikit command line: yargs wiring, global flags, and the one place
 * where typed errors become exit statuses (0 ok, 1 failed, 2 usage).
 */
import yargs, { type Argv, type Options } from 'yargs';
import { OcikitError, UsageError } from '../index.js';
import { Context, isUsageOrigin, type GlobalArgs } from './context.js';
import { commands } from './commands/index.js';
import type { CommandSpec } from './commands/command.js';
import { exitOnSignalsRemovingTempFiles } from './signals.js';
import { version } from './version.js';
import { chooseFormat, DEFAULT_FORMATS } from './format.js';
import { commandName, helpHint, usageErrorFor, type CommandSeen } from './usage.js';
import { networkFlags } from './registry-options.js';

const USAGE_CODES = new Set(['USAGE', 'INVALID_REFERENCE']);

/**
 * yargs re-parses positionals as `--name value`, and a lone `-` there reads
 * as a flag, so `blob push DIR -` would get `true` instead of "-". The
 * argument is swapped for this token before parsing and swapped back in
 * every value a handler sees.
 */
const DASH = '\u2063ocikit-stdin\u2063';

export { version };

function exitCodeFor(err: unknown): number {
  return err instanceof OcikitError && (USAGE_CODES.has(err.code) || isUsageOrigin(err)) ? 2 : 1;
}

export interface RunOptions {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Global options, in the order help lists them (after the command's own). */
const GLOBAL_OPTIONS: Record<string, Options> = {
  format: { type: 'string', requiresArg: true, describe: 'output format: text or json (discover also tree, table)' },
  json: { type: 'boolean', describe: 'alias of --format json' },
  quiet: { alias: 'q', type: 'boolean', describe: 'print only results: no summaries, no warnings (errors still)' },
  progress: { type: 'boolean', default: true, describe: 'progress on stderr when it is a TTY (--no-progress turns it off)' },
  debug: { type: 'boolean', describe: 'stack traces and request logs (never credentials)' },
  'oci-layout': { type: 'boolean', describe: 'treat a bare reference as a layout directory' },
  'plain-http': { type: 'boolean', describe: 'talk plain HTTP to registries' },
  insecure: { type: 'boolean', describe: 'skip TLS verification' },
  'ca-file': { type: 'string', describe: 'trust this CA certificate file' },
  username: { alias: 'u', type: 'string', describe: 'registry user name' },
  'password-stdin': { type: 'boolean', describe: 'read the registry password from stdin' },
  'registry-config': { type: 'string', describe: 'docker config.json with credentials' },
  timeout: { type: 'string', describe: 'registries: give up on connecting, or on a connection silent, for SECONDS (default 30)' },
  retries: { type: 'string', describe: 'registries: retries of a failed idempotent request, with backoff (default 4; 0: one try)' },
};

/** Build the parser. Handlers register their work in `pending` so main can await it and map errors. */
function buildParser(argv: string[], opts: RunOptions, pending: Array<Promise<void>>, contexts: Context[], seen: CommandSeen): Argv {
  let parser: Argv = yargs(argv)
    .scriptName('ocikit')
    // yargs' own words are matched in cli/usage.ts and replaced: keep them in English whatever LANG says.
    .locale('en')
    .usage('$0 <command> [options]\n\nOffline OCI image layouts: archives, artifacts with subjects, referrers, registry transfer.')
    .options(GLOBAL_OPTIONS)
    .group([...Object.keys(GLOBAL_OPTIONS), 'help', 'version'], 'Global options:')
    // Tags such as 10 or 007, and layout directories named 2024, are strings, not numbers.
    .parserConfiguration({ 'parse-numbers': false, 'parse-positional-numbers': false })
    .strict()
    .demandCommand(1, 'say which command to run')
    .recommendCommands()
    .completion('completion', 'print a shell completion script: bash (default) or zsh (ocikit completion zsh)')
    .version(version())
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err instanceof OcikitError) throw err;
      throw usageErrorFor(restoreDash(msg ?? err?.message ?? 'invalid command line'), argv.map(restoreDash), seen, commands);
    });
  seen.flags = knownFlags(parser);
  const register = (y: Argv, cmd: CommandSpec, parents: string[]): Argv =>
    y.command({
      command: cmd.command,
      describe: cmd.describe,
      builder: (sub: Argv) => {
        const path = [...parents, commandName(cmd)];
        const before = new Set(Object.keys(declared(sub).key));
        let b = cmd.builder ? cmd.builder(sub) : sub;
        // The command's own options first in its help, the global ones after them.
        const own = Object.keys(declared(b).key).filter((k) => !before.has(k) && !isAliasKey(b, k));
        if (own.length > 0) b = b.group(own, 'Options:');
        // Elsewhere `--output json` is the old spelling of --format json (cli/format.ts).
        if (!own.includes('output') && !cmd.subcommands) b = b.option('output', { type: 'string', hidden: true });
        for (const [line, what] of cmd.examples ?? []) b = b.example(line, what);
        if (cmd.subcommands) {
          for (const child of cmd.subcommands) b = register(b, child, path);
          b = b.demandCommand(1, `${path.join(' ')} needs a subcommand: ${cmd.subcommands.map(commandName).join(', ')}`);
        }
        Object.assign(seen, { path, spec: cmd, flags: knownFlags(b), valued: valuedFlags(b) });
        return b;
      },
      handler: (parsed: Record<string, unknown>) => {
        if (cmd.subcommands) return;
        const args = restoreDashes(parsed);
        const choice = chooseFormat(args, cmd.formats ?? DEFAULT_FORMATS, cmd.outputIsPath === true, seen.path.join(' '));
        // Checked for every command, not only when one reaches a registry: a bad value is a mistake wherever it is given.
        networkFlags(args as GlobalArgs);
        const ctx = new Context(args as GlobalArgs, opts, choice.format);
        contexts.push(ctx);
        if (choice.deprecation) ctx.out.warn(choice.deprecation);
        if (opts.stdout === undefined && !cmd.handlesSignals) exitOnSignalsRemovingTempFiles(opts.stderr ?? process.stderr);
        pending.push(cmd.handler(args, ctx).finally(() => ctx.close()));
      },
    });
  for (const cmd of commands) parser = register(parser, cmd, []);
  skipHelpCache(parser);
  return parser;
}

/** What yargs has been told of the options so far (its getOptions(), missing from its typings). */
interface DeclaredOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
  string: string[];
  number: string[];
  array: string[];
}

function declared(y: Argv): DeclaredOptions {
  return (y as unknown as { getOptions(): DeclaredOptions }).getOptions();
}

/** Every flag name the parser knows at this point, aliases and yargs' camelCase forms included. */
function knownFlags(y: Argv): Set<string> {
  const o = declared(y);
  const names = new Set<string>([...Object.keys(o.key), 'help', 'h', 'version']);
  for (const [k, aliases] of Object.entries(o.alias)) for (const n of [k, ...aliases]) names.add(n);
  return names;
}

function valuedFlags(y: Argv): Set<string> {
  const o = declared(y);
  const valued = new Set<string>([...o.string, ...o.number, ...o.array]);
  for (const [k, aliases] of Object.entries(o.alias)) if (valued.has(k)) aliases.forEach((a) => valued.add(a));
  return valued;
}

/** `-o` declared with alias `output` adds both as keys; only the one declared first is a key of its own. */
function isAliasKey(y: Argv, key: string): boolean {
  const o = declared(y);
  return Object.entries(o.alias).some(([k, aliases]) => k !== key && aliases.includes(key) && Object.keys(o.key).indexOf(k) < Object.keys(o.key).indexOf(key));
}

/** Run the CLI; returns the exit status (and sets process.exitCode when run from the shim). */
export async function main(argv: string[], opts: RunOptions = {}): Promise<number> {
  const stderr = opts.stderr ?? process.stderr;
  const debug = argv.includes('--debug');
  const pending: Array<Promise<void>> = [];
  const contexts: Context[] = [];
  const seen: CommandSeen = { path: [], flags: new Set(), valued: new Set(Object.keys(GLOBAL_OPTIONS).filter((k) => GLOBAL_OPTIONS[k]!.type === 'string')) };
  if (opts.stdout === undefined) endQuietlyWhenStdoutCloses();
  let status = 0;
  try {
    await withCompletionShell(argv, () => buildParser(argv.map((a) => (a === '-' ? DASH : a)), opts, pending, contexts, seen).parseAsync(), opts.stdout ?? process.stdout);
    await Promise.all(pending);
    status = Math.max(0, ...contexts.map((c) => c.exitStatus));
  } catch (err) {
    status = exitCodeFor(err);
    // A usage error names the help of the command it is about (`hint: ocikit blob fetch --help`) unless it has a better hint.
    const hint = err instanceof OcikitError ? (err.hint ?? (status === 2 ? helpHint(seen.path) : undefined)) : undefined;
    reportError(err, hint, stderr, debug);
    // With --format json, stdout still carries one document: the error, with its stable code,
    // unless the command already printed its result (ls lists what it could read, then fails).
    const json = contexts.length > 0 ? contexts.some((c) => c.out.json) : wantsJson(argv);
    if (json && !contexts.some((c) => c.out.wroteResult)) {
      (opts.stdout ?? process.stdout).write(`${JSON.stringify({ error: errorFacts(err, status, hint) }, null, 2)}\n`);
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

function reportError(err: unknown, hint: string | undefined, stderr: NodeJS.WritableStream, debug: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`ocikit: ${oneLine(message)}\n`);
  if (hint) stderr.write(`hint: ${oneLine(hint)}\n`);
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

function restoreDash(s: string): string {
  return s.split(DASH).join('-');
}

function restoreDashes(args: Record<string, unknown>): Record<string, unknown> {
  const fix = (v: unknown): unknown => (v === DASH ? '-' : Array.isArray(v) ? v.map(fix) : v);
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, fix(v)]));
}

/**
 * Whether the command line asks for JSON output when parsing failed before
 * any command could decide (cli/format.ts decides otherwise): read from argv
 * itself, old spelling `--output json` included.
 */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end >= 0 ? argv.slice(0, end) : argv;
  return flags.some(
    (a, i) => a === '--json' || a === '--json=true' || a === '--format=json' || a === '--output=json' || ((a === '--format' || a === '--output') && flags[i + 1] === 'json'),
  );
}

function errorFacts(err: unknown, exitCode: number, hint: string | undefined): Record<string, unknown> {
  const facts: Record<string, unknown> = { code: err instanceof OcikitError ? err.code : 'INTERNAL', message: oneLine(err instanceof Error ? err.message : String(err)), exitCode };
  if (hint !== undefined) facts.hint = hint;
  if (err instanceof OcikitError) {
    for (const k of ['path', 'digest', 'expected', 'actual'] as const) if (err[k] !== undefined) facts[k] = err[k];
  }
  return facts;
}

const COMPLETION_HELP = `ocikit completion [bash|zsh]

Print a shell completion script (bash by default); it asks ocikit itself for the words, so ocikit must be on PATH.

Examples:
  source <(ocikit completion)             complete ocikit in this bash session
  ocikit completion zsh >> ~/.zshrc       complete ocikit in every zsh session
`;

/**
 * `ocikit completion zsh`: yargs picks the script by $SHELL, so the shell
 * named on the command line is put there while the script is printed.
 */
async function withCompletionShell(argv: string[], run: () => Promise<unknown>, stdout: NodeJS.WritableStream): Promise<unknown> {
  if (argv[0] !== 'completion' || argv.length > 2) return run();
  // yargs answers `completion --help` with the script itself: say what the command does instead.
  if (argv[1] === '--help' || argv[1] === '-h') return void stdout.write(COMPLETION_HELP);
  const shell = argv[1] ?? 'bash';
  if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion scripts exist for bash and zsh, not "${shell}"`, { hint: 'ocikit completion --help' });
  argv.splice(1);
  const saved = { SHELL: process.env.SHELL, ZSH_NAME: process.env.ZSH_NAME };
  process.env.SHELL = `/bin/${shell}`;
  delete process.env.ZSH_NAME;
  try {
    return await run();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, '; ');
}
