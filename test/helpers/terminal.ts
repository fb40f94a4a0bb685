/**
 * A fake terminal for progress tests: takes what a program writes and keeps
 * the screen it would show, interpreting the few controls a progress display
 * uses (CR, LF, cursor up, erase line, erase below). Any other escape
 * sequence fails the test, so a display cannot rely on one this does not
 * model. The screen has no bottom: rows written below the last grow it, and
 * `rows` tells how far it ever grew (what a real terminal would have
 * scrolled).
 */
export class FakeTerminal {
  readonly isTTY = true;
  columns: number;
  /** Rows of text, without trailing blanks. */
  private screen: string[] = [''];
  private row = 0;
  private col = 0;
  private widestSeen = 0;
  /** Everything written, in order. */
  readonly written: string[] = [];

  constructor(columns = 80) {
    this.columns = columns;
  }

  write(chunk: string): boolean {
    this.written.push(chunk);
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (c === '\r') this.col = 0;
      else if (c === '\n') {
        this.row++;
        this.col = 0;
        while (this.screen.length <= this.row) this.screen.push('');
      } else if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([AJK])/.exec(chunk.slice(i));
        if (!m) throw new Error(`unexpected escape sequence ${JSON.stringify(chunk.slice(i, i + 8))}`);
        const n = m[1] === '' ? undefined : Number(m[1]);
        if (m[2] === 'A') {
          if (n === 0) throw new Error('ESC[0A moves up one row on real terminals: never write it');
          this.row = Math.max(0, this.row - (n ?? 1));
        } else if (m[2] === 'K' && n === 2) this.screen[this.row] = '';
        else if (m[2] === 'K') this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
        else if (m[2] === 'J') {
          this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
          for (let r = this.row + 1; r < this.screen.length; r++) this.screen[r] = '';
        }
        i += m[0].length - 1;
      } else {
        const line = this.screen[this.row]!.padEnd(this.col);
        this.screen[this.row] = line.slice(0, this.col) + c + line.slice(this.col + 1);
        this.col++;
        this.widestSeen = Math.max(this.widestSeen, this.col);
      }
    }
    return true;
  }

  /** The rows that show something, trailing blank rows dropped. */
  visible(): string[] {
    const rows = this.screen.map((r) => r.trimEnd());
    while (rows.length > 0 && rows[rows.length - 1] === '') rows.pop();
    return rows;
  }

  /** How many rows the screen ever had. */
  get rows(): number {
    return this.screen.length;
  }

  /** The longest row ever written, in characters (a row as long as the width or longer would have wrapped). */
  get widest(): number {
    return this.widestSeen;
  }
}
