import { once } from 'node:events';
import { batched, jsonChunks } from '../index.js';
import type { Format } from './format.js';

/**
 * Where results go: stdout carries results (exactly one JSON document with
 * --format json), stderr carries warnings and errors. Nothing else in the CLI
 * writes to the process streams directly, so tests can capture everything.
 */
export interface OutputOptions {
  /** The one output format of the command (cli/format.ts decides it). */
  format: Format;
  quiet: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export class Output {
  readonly format: Format;
  readonly quiet: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Set once a result is on stdout, so that a later failure does not add a second JSON document. */
  wroteResult = false;

  constructor(opts: OutputOptions) {
    this.format = opts.format;
    this.quiet = opts.quiet;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
  }

  /** Whether stdout carries one JSON document (--format json, --json). */
  get json(): boolean {
    return this.format === 'json';
  }

  /** Print a result: as JSON with --format json, else through `text`. */
  result<T>(value: T, text: (v: T) => string): void {
    this.wroteResult = true;
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const s = text(value);
      if (s.length > 0) this.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    }
  }

  /**
   * Print a result that can be big (ls, verify, inspect of tens of thousands
   * of manifests) as it is produced: JSON in pieces (the same text as
   * `result` gives; the value may hold JsonArrayStream/JsonLater members),
   * text line by line, waiting whenever stdout asks to, so that neither the
   * whole document nor a backlog of writes is ever held in memory.
   */
  async stream<T>(value: T, lines: (v: T) => Iterable<string>): Promise<void> {
    for (const chunk of batched(this.json ? withNewline(jsonChunks(value)) : terminated(lines(value)))) {
      // Only once bytes are out: a failure while the first piece is produced (a tree too deep to
      // draw, found lazily) still gets its one JSON error document instead of an empty stdout.
      this.wroteResult = true;
      if (!this.stdout.write(chunk)) await once(this.stdout, 'drain');
    }
    this.wroteResult = true;
  }

  /** Raw bytes to stdout (manifest fetch, blob fetch to -). */
  raw(bytes: Uint8Array | string): void {
    this.wroteResult = true;
    this.stdout.write(bytes);
  }

  /** A line of information for people, on stderr (summaries, what was written where); --quiet drops it. */
  info(line: string): void {
    if (!this.quiet) this.stderr.write(`${line}\n`);
  }

  /** A warning that is not an error (the command still succeeds): --quiet drops it too, as it promises results only. */
  warn(line: string): void {
    if (!this.quiet) this.stderr.write(`ocikit: warning: ${line}\n`);
  }

  /** An error that does not end the command (serve: one request failed): printed even with --quiet. */
  error(line: string): void {
    this.stderr.write(`ocikit: ${line}\n`);
  }
}

function* withNewline(pieces: Iterable<string>): Generator<string> {
  yield* pieces;
  yield '\n';
}

function* terminated(lines: Iterable<string>): Generator<string> {
  for (const line of lines) yield `${line}\n`;
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  return [...tableLines(headers, rows, (r) => r)].join('\n');
}

/** How a table is fitted into a terminal: its width, and the columns (by index) that may be cut with "…". */
export interface TableFit {
  width: number;
  shrink: number[];
}

/**
 * The lines of an aligned text table of `items`. Cells are made twice (once
 * to measure the columns, once to print them) rather than kept: for a
 * listing of tens of thousands of rows, the cells would outweigh the items.
 * With `fit`, the widest cuttable columns are narrowed until a line fits the
 * terminal (none below its header's width), and cells cut to them end in "…".
 */
export function* tableLines<T>(headers: string[], items: readonly T[], cells: (item: T) => string[], fit?: TableFit): Generator<string> {
  const widths = headers.map((h) => h.length);
  for (const item of items) cells(item).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  if (fit) narrow(widths, headers, fit);
  const cut = (c: string, i: number) => (fit && c.length > widths[i]! ? `${c.slice(0, Math.max(widths[i]! - 1, 0))}…` : c);
  const line = (row: string[]) => row.map((c, i) => (i === row.length - 1 ? cut(c, i) : cut(c, i).padEnd(widths[i]!))).join('  ').trimEnd();
  yield line(headers);
  for (const item of items) yield line(cells(item));
}

function narrow(widths: number[], headers: string[], fit: TableFit): void {
  const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  while (total() > fit.width) {
    // One character at a time off the widest column that can still give one.
    // Down to 6 characters, header included ("MEDIA…"): a cut column still says what it holds.
    const candidates = fit.shrink.filter((i) => widths[i]! > Math.min(headers[i]!.length, 6));
    if (candidates.length === 0) return;
    const widest = candidates.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
    widths[widest]! -= 1;
  }
}

/**
 * The width to fit text tables into: only when stdout is a terminal (a pipe
 * or a file gets full rows). `COLUMNS`, when set, wins over the terminal's
 * own size (as for ls(1) -w), which also lets tests under a pseudo-terminal
 * choose it.
 */
export function terminalWidth(stdout: NodeJS.WritableStream): number | undefined {
  const tty = stdout as NodeJS.WriteStream;
  if (tty.isTTY !== true) return undefined;
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return tty.columns && tty.columns > 0 ? tty.columns : 80;
}
