/**
 * Usage errors in ocikit's voice. yargs reports a bad command line in its own
 * words ("Not enough non-option arguments: got 1, need at least 2", "Unknown
 * arguments: artifact-typ, artifactTyp"), and checks required arguments
 * before unknown ones, so a typo `--artifact-typ` read as a missing
 * `--artifact-type`. Here the command line is judged from what was typed and
 * what the command declares: unknown flags first (with the closest known
 * one), then missing arguments, each as one line naming the command, whose
 * own help the hint points at.
 */
import { UsageError } from '../index.js';
import type { CommandSpec } from './commands/command.js';

/** What the parser learnt about the command being run (filled in as yargs runs the builders). */
export interface CommandSeen {
  /** `['blob', 'fetch']`; empty before any command matched. */
  path: string[];
  spec?: CommandSpec;
  /** Every flag name the command accepts, its own and the global ones, with aliases. */
  flags: Set<string>;
  /** Flags that take a value (so the word after them is not a command or a positional). */
  valued: Set<string>;
}

export function helpHint(path: readonly string[]): string {
  return `ocikit ${path.length > 0 ? `${path.join(' ')} ` : ''}--help`;
}

/** The error for a failure yargs reported with `message`, for the command line `argv`. */
export function usageErrorFor(message: string, argv: readonly string[], seen: CommandSeen, commands: readonly CommandSpec[]): UsageError {
  const hint = helpHint(seen.path);
  const unknown = unknownFlags(argv, seen.flags);
  if (unknown.length > 0) {
    const flag = unknown[0]!;
    const near = closest(flag.replace(/^-+/, ''), [...seen.flags].filter((f) => f.length > 1 && !/[A-Z]/.test(f)));
    const more = unknown.length > 1 ? ` (and ${unknown.slice(1).join(', ')})` : '';
    // The facts carry the flag as typed and the one probably meant, for scripts and tests (the JSON error document).
    return new UsageError(`unknown option ${flag}${more}${near ? `; did you mean --${near}?` : ''}`, { hint, actual: flag, ...(near ? { expected: `--${near}` } : {}) });
  }
  const group = seen.spec?.subcommands ?? (seen.path.length === 0 ? commands : undefined);
  const words = positionals(argv, seen);
  if (group && (/^Unknown (argument|command)s?: /.test(message) || /^Did you mean /.test(message))) {
    const word = words[seen.path.length] ?? '';
    const near = closest(word, group.map(commandName));
    return new UsageError(`unknown command "${[...seen.path, word].join(' ')}"${near ? `; did you mean ${[...seen.path, near].join(' ')}?` : ''}`, {
      hint,
      actual: word,
      ...(near ? { expected: near } : {}),
    });
  }
  const name = seen.path.join(' ');
  const args = seen.spec ? declaredPositionals(seen.spec) : [];
  if (/^Not enough non-option arguments/.test(message) && seen.spec && !seen.spec.subcommands) {
    const needed = args.filter((a) => a.required).map((a) => a.name);
    return new UsageError(`${name} needs ${joinAnd(needed)}`, { hint });
  }
  if ((/^Too many non-option arguments/.test(message) || /^Unknown arguments?: /.test(message)) && seen.spec) {
    const extra = words.slice(seen.path.length + args.length);
    return new UsageError(`${name} takes ${args.length === 0 ? 'no arguments' : args.map((a) => (a.required ? a.name : `[${a.name}]`)).join(' ')}; "${extra[0] ?? ''}" is one too many`, { hint });
  }
  const missing = /^Missing required arguments?: (.+)$/.exec(message);
  if (missing) return new UsageError(`${name} needs ${joinAnd(missing[1]!.split(', ').map(dashed))}`, { hint });
  const noValue = /^Not enough arguments following: (.+)$/.exec(message);
  if (noValue) return new UsageError(`${dashed(noValue[1]!)} needs a value`, { hint });
  return new UsageError(message, { hint });
}

export function commandName(spec: CommandSpec): string {
  return spec.command.split(' ')[0]!;
}

/** Positionals of `copy <src> <dst>` or `attach <ref> [files..]`, in upper case as help writes them. */
function declaredPositionals(spec: CommandSpec): Array<{ name: string; required: boolean }> {
  return spec.command
    .split(' ')
    .slice(1)
    .map((p) => ({ name: p.replace(/[<>[\].]/g, '').toUpperCase(), required: p.startsWith('<') }));
}

/** The flags of `argv` (as typed, each once) that the command does not know. */
export function unknownFlags(argv: readonly string[], known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const end = argv.indexOf('--');
  for (const a of end >= 0 ? argv.slice(0, end) : argv) {
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) continue;
    const names = a.startsWith('--') ? [a.slice(2).split('=')[0]!] : [...a.slice(1).split('=')[0]!];
    for (const n of names) {
      const bare = n.startsWith('no-') && known.has(n.slice(3)) ? n.slice(3) : n;
      const shown = a.startsWith('--') ? `--${n}` : `-${n}`;
      if (!known.has(bare) && !out.includes(shown)) out.push(shown);
    }
  }
  return out;
}

/** The words of argv that are not flags or flag values: command names, then positionals. */
function positionals(argv: readonly string[], seen: CommandSeen): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [...out, ...argv.slice(i + 1)];
    if (a.startsWith('-') && a.length > 1) {
      const name = a.replace(/^-+/, '');
      if (!name.includes('=') && seen.valued.has(name)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The candidate nearest to `word` by edit distance, if it is near enough to be the one meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // A third of the word may be wrong (one letter in three), and a prefix of a known name always counts.
  return best !== undefined && (bestDistance <= Math.max(1, Math.floor(word.length / 3)) || (word.length >= 3 && best.startsWith(word))) ? best : undefined;
}

/** Levenshtein distance (insert, delete, substitute), two rows at a time. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function dashed(flag: string): string {
  return flag.length === 1 ? `-${flag}` : `--${flag}`;
}

function joinAnd(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
