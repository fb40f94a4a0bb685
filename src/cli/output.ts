/**
 * Where results go: stdout carries results (exactly one JSON document with
 * --output json), stderr carries warnings and errors. Nothing else in the CLI
 * writes to the process streams directly, so tests can capture everything.
 */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Set once a result is on stdout, so that a later failure does not add a second JSON document. */
  wroteResult = false;

  constructor(opts: OutputOptions) {
    this.json = opts.json;
    this.quiet = opts.quiet;
    this.stdout = opts.stdout ?? process.stdout;
    this.stderr = opts.stderr ?? process.stderr;
  }

  /** Print a result: as JSON with --output json, else through `text`. */
  result<T>(value: T, text: (v: T) => string): void {
    this.wroteResult = true;
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const s = text(value);
      if (s.length > 0) this.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
    }
  }

  /** Raw bytes to stdout (manifest fetch, blob fetch to -). */
  raw(bytes: Uint8Array | string): void {
    this.wroteResult = true;
    this.stdout.write(bytes);
  }

  /** A line of information for people (suppressed by --quiet and with --output json to keep stdout clean). */
  info(line: string): void {
    if (!this.quiet) this.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    this.stderr.write(`ocikit: warning: ${line}\n`);
  }
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
