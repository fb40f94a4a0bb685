/**
 * The output format of a command, decided in one place from the flags
 * (oras's model): `--format text|json` everywhere, `tree|table` where a
 * command draws them, `--json` as the alias of `--format json`. `-o/--output`
 * is a destination path; as a format it is a deprecated spelling, still
 * honoured for a while (see `outputAsFormat`).
 */
import { UsageError } from '../index.js';

export type Format = 'text' | 'json' | 'tree' | 'table';

export const DEFAULT_FORMATS: readonly Format[] = ['text', 'json'];

export interface FormatFlags {
  format?: unknown;
  json?: unknown;
  output?: unknown;
}

export interface FormatChoice {
  format: Format;
  /** A deprecated spelling was used: one line for stderr. */
  deprecation?: string;
}

/**
 * The format asked for. `formats` are those the command prints; `outputIsPath`
 * says that `-o/--output` names a file for this command (and so is not a
 * format at all).
 */
export function chooseFormat(flags: FormatFlags, formats: readonly Format[], outputIsPath: boolean, command: string): FormatChoice {
  const given = single(flags.format, '--format');
  const json = flags.json === true;
  const legacy = outputIsPath ? undefined : outputAsFormat(flags.output, formats, command);
  if (given !== undefined && !(formats as readonly string[]).includes(given)) {
    throw new UsageError(`--format takes ${formats.join(', ')}; got "${given}"`);
  }
  if (json && given !== undefined && given !== 'json') throw new UsageError(`--json and --format ${given} disagree; give one of them`);
  const format = (given ?? (json ? 'json' : legacy?.format ?? 'text')) as Format;
  return { format, deprecation: given === undefined && !json ? legacy?.deprecation : undefined };
}

/**
 * `--output json` (or `-o tree` on discover) from before `-o` became a path.
 * Kept working with a deprecation line rather than refused: scripts written
 * for the old spelling go on getting the same stdout, and learn the new one
 * from stderr (as oras 1.2 did with `discover -o`).
 */
function outputAsFormat(value: unknown, formats: readonly Format[], command: string): FormatChoice | undefined {
  const v = single(value, '--output');
  if (v === undefined) return undefined;
  if (!(formats as readonly string[]).includes(v)) {
    throw new UsageError(`${command} writes no file, so it takes no --output "${v}"; for the output format use --format ${formats.join('|')}`);
  }
  return { format: v as Format, deprecation: `-o/--output ${v} is deprecated: use --format ${v}${v === 'json' ? ' (or --json)' : ''}; -o/--output names a file, as in oras` };
}

function single(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UsageError(`${flag} is given ${value.length} times; give it once`);
  return String(value);
}
