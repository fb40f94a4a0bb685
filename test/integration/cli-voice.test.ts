/**
 * The command line as oras and skopeo users know it (issue 15): `--format`
 * chooses the output format and `-o/--output` a destination path; usage
 * errors are one `ocikit:` line plus the command's own help; help lists a
 * command's options first with two examples; completion and version; diff
 * --exit-code; -q prints results only; ls fits a terminal; summaries are one
 * short line. Errors are judged by exit status and JSON error code (and the
 * JSON facts `actual`/`expected` of an unknown flag), never by wording.
 */
import { describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterFile, BIN, copyFixture, jsonDocument, ocikit, REPO_ROOT, run, type JsonError } from '../helpers/cli.js';
import { once } from '../helpers/peers.js';
import { startRegistry } from '../helpers/registry.js';
import { expectFailure, expectJson, expectSuccess, fixture, loadExpected } from './_support.js';

const { cleanups, tmp } = afterFile();

const registry = once(async () => {
  const r = await startRegistry();
  cleanups.push(r.stop);
  return r;
});

const SINGLE = fixture('single-image');
const REFERRERS = fixture('with-referrers');
const MULTI = fixture('multi-platform');

/** Lines of a text output, without the last newline. */
const lines = (s: string): string[] => s.replace(/\n$/, '').split('\n');

describe('flags: --format chooses the format, -o/--output names a destination', () => {
  it('--format json prints one JSON document on every command that prints results; --json is its alias', async () => {
    const tags = await ocikit(['tags', SINGLE, '--format', 'json']);
    expect(tags.code, tags.stderr).toBe(0);
    expect(jsonDocument(tags)).toEqual(['v1']);
    expect(jsonDocument(await expectSuccess(['tags', SINGLE, '--json']))).toEqual(['v1']);
    // A format the command does not print, and --json against another --format: usage errors.
    await expectFailure(['tags', SINGLE, '--format', 'yaml'], { exit: 2, code: 'USAGE' });
    const clash = await ocikit(['tags', SINGLE, '--json', '--format', 'text']);
    expect(clash.code).toBe(2);
  });

  it('blob fetch --output FILE (the oras spelling) and -o FILE write the verified blob', async () => {
    const e = await loadExpected();
    const dir = await tmp();
    for (const flag of ['--output', '-o']) {
      const file = path.join(dir, `layer${flag}`);
      const r = await ocikit(['blob', 'fetch', `${SINGLE}@${e.single.layers[0]}`, flag, file, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((jsonDocument(r) as { path: string; digest: string }).digest).toBe(e.single.layers[0]);
      expect((await readFile(file)).length).toBe(3607);
    }
  });

  it('manifest fetch -o FILE and manifest fetch-config --output FILE write the exact bytes; nothing goes to stdout', async () => {
    const e = await loadExpected();
    const dir = await tmp();
    const m = path.join(dir, 'm.json');
    const r = await ocikit(['manifest', 'fetch', `${SINGLE}:v1`, '-o', m]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(await readFile(m)).toEqual(await readFile(path.join(SINGLE, 'blobs', 'sha256', e.single.image.slice(7))));
    const c = path.join(dir, 'config.json');
    const rc = await ocikit(['manifest', 'fetch-config', `${SINGLE}:v1`, '--output', c, '--json']);
    expect(rc.code, rc.stderr).toBe(0);
    expect((jsonDocument(rc) as { digest: string; path: string }).digest).toBe(e.single.config);
    expect(await readFile(c)).toEqual(await readFile(path.join(SINGLE, 'blobs', 'sha256', e.single.config.slice(7))));
    // A destination that cannot be written is refused before anything is read.
    await expectFailure(['manifest', 'fetch', `${SINGLE}:v1`, '-o', dir], { exit: 2, code: 'USAGE' });
  });

  it('artifact pull --output DIR is the long form of -o DIR', async () => {
    const dir = await tmp();
    const layout = await copyFixture('single-image', dir);
    const note = path.join(dir, 'note.txt');
    await run('sh', ['-c', `printf hello > "${note}"`]);
    await expectJson(['artifact', 'push', `${layout}:notes`, 'note.txt', '--artifact-type', 'application/vnd.example.note'], { cwd: dir });
    const out = path.join(dir, 'out');
    const r = await ocikit(['artifact', 'pull', `${layout}:notes`, '--output', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(out, 'note.txt'), 'utf8')).toBe('hello');
  });

  it('discover -o tree|table|json and --output json elsewhere still work, with one deprecation line on stderr (none with -q)', async () => {
    const viaFormat = await expectSuccess(['discover', `${REFERRERS}:v1`, '--format', 'table']);
    expect(viaFormat.stderr).toBe('');
    const viaO = await expectSuccess(['discover', `${REFERRERS}:v1`, '-o', 'table']);
    expect(viaO.stdout).toBe(viaFormat.stdout);
    expect(lines(viaO.stderr)).toHaveLength(1);
    expect(viaO.stderr).toMatch(/^ocikit: warning: /);
    const json = await expectSuccess(['discover', `${REFERRERS}:v1`, '-o', 'json']);
    expect(jsonDocument(json)).toEqual(jsonDocument(await expectSuccess(['discover', `${REFERRERS}:v1`, '--json'])));
    const legacy = await expectSuccess(['tags', SINGLE, '--output', 'json']);
    expect(jsonDocument(legacy)).toEqual(['v1']);
    expect(lines(legacy.stderr)).toHaveLength(1);
    expect((await expectSuccess(['tags', SINGLE, '--output', 'json', '-q'])).stderr).toBe('');
    // --output with anything but a format, on a command that writes no file: a usage error.
    await expectFailure(['tags', SINGLE, '--output', 'tags.txt'], { exit: 2, code: 'USAGE' });
  });
});

describe('usage errors in ocikit voice', () => {
  it('are exactly two stderr lines: "ocikit: ..." and "hint: ocikit <command> --help"; no parser wording', async () => {
    for (const [args, command] of [
      [['copy', SINGLE], 'copy'],
      [['blob', 'fetch'], 'blob fetch'],
      [['attach', `${SINGLE}:v1`, '--artifact-typ', 'x/y'], 'attach'],
      [['tags', SINGLE, 'extra'], 'tags'],
      [['blob', 'fetch', `${SINGLE}:v1`], 'blob fetch'],
    ] as const) {
      const r = await ocikit([...args]);
      expect(r.code, r.stderr).toBe(2);
      const err = lines(r.stderr);
      expect(err, r.stderr).toHaveLength(2);
      expect(err[0]).toMatch(/^ocikit: \S/);
      expect(err[1]).toBe(`hint: ocikit ${command} --help`);
      expect(r.stderr).not.toMatch(/non-option arguments|Unknown arguments?:|Missing required argument/);
    }
  });

  it('an unknown flag is reported as such (not as a missing argument), once, with the closest known flag', async () => {
    const err = await expectFailure(['attach', `${SINGLE}:v1`, '--artifact-typ', 'x/y', 'file'], { exit: 2, code: 'USAGE' });
    expect(err.actual).toBe('--artifact-typ');
    expect(err.expected).toBe('--artifact-type');
    expect(err.hint).toBe('ocikit attach --help');
    // A global flag is a known flag of every command; one typed with a typo is suggested too.
    const global = await expectFailure(['tags', SINGLE, '--plain-htp'], { exit: 2, code: 'USAGE' });
    expect(global.expected).toBe('--plain-http');
  });

  it('an unknown command or subcommand suggests the closest one', async () => {
    const top = await expectFailure(['copi', SINGLE, 'x'], { exit: 2, code: 'USAGE' });
    expect([top.actual, top.expected, top.hint]).toEqual(['copi', 'copy', 'ocikit --help']);
    const sub = await expectFailure(['blob', 'fech', `${SINGLE}@sha256:${'0'.repeat(64)}`], { exit: 2, code: 'USAGE' });
    expect([sub.actual, sub.expected, sub.hint]).toEqual(['fech', 'fetch', 'ocikit blob --help']);
  });

  it('an error a handler finds in the command line also points at that command\'s help', async () => {
    const err = await expectFailure(['blob', 'fetch', `${SINGLE}:v1`], { exit: 2, code: 'USAGE' });
    expect(err.hint).toBe('ocikit blob fetch --help');
  });
});

describe('help, completion, version', () => {
  /**
   * The help of every command and subcommand (found in the top-level help and
   * each group's), rendered in ONE process: forty CLI start-ups would take
   * a minute on a busy machine. yargs prints help through console.log.
   */
  async function allHelps(): Promise<Array<{ c: string[]; help: string }>> {
    const script = `
      const { main } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))});
      const helpOf = async (args) => { let text = ''; const log = console.log; console.log = (s) => { text += s + '\\n'; }; try { await main([...args, '--help'], { stdout: process.stdout }); } finally { console.log = log; } return text; };
      const names = (help, prefix) => [...help.matchAll(new RegExp('^  ocikit ' + prefix + '([a-z-]+)', 'gm'))].map((m) => m[1]).filter((n) => n !== 'completion');
      const out = [];
      for (const c of names(await helpOf([]), '')) {
        out.push({ c: [c], help: await helpOf([c]) });
        for (const s of names(out[out.length - 1].help, c + ' ')) out.push({ c: [c, s], help: await helpOf([c, s]) });
      }
      process.stdout.write(JSON.stringify(out));`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Array<{ c: string[]; help: string }>;
  }

  it('every command lists its own options before the global ones and shows two examples of itself', async () => {
    const helps = await allHelps();
    expect(helps.length).toBeGreaterThan(30);
    for (const { c, help } of helps) {
      const own = help.indexOf('\nOptions:');
      const global = help.indexOf('\nGlobal options:');
      expect(global, c.join(' ')).toBeGreaterThan(0);
      if (own >= 0) expect(own, c.join(' ')).toBeLessThan(global);
      const examples = help.slice(help.indexOf('\nExamples:'));
      expect(help.includes('\nExamples:'), c.join(' ')).toBe(true);
      // Each example is a command line running this command (possibly fed by a pipe).
      const runs = examples.split('\n').filter((l) => new RegExp(`ocikit ${c[0]}\\b`).test(l));
      expect(runs.length, `${c.join(' ')}:\n${examples}`).toBeGreaterThanOrEqual(2);
    }
  });

  it('ocikit completion prints a bash script that bash sources and registers; completion zsh a zsh one', async () => {
    const bash = await run('bash', ['-c', `source <("${process.execPath}" "${BIN}" completion) && complete -p ocikit`]);
    expect(bash.code, bash.stderr).toBe(0);
    expect(bash.stdout).toMatch(/^complete .* ocikit$/m);
    const zsh = await expectSuccess(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef ocikit/);
    // The script asks ocikit for words; the commands come back.
    const words = await expectSuccess(['--get-yargs-completions', 'ocikit', 'bl']);
    expect(lines(words.stdout)).toContain('blob');
  });

  it('ocikit completion --help is the command\'s help, not the script (yargs printed the script)', async () => {
    const help = await expectSuccess(['completion', '--help']);
    expect(help.stdout).not.toMatch(/^###-begin|^#compdef/m);
    expect(help.stdout).toMatch(/^ocikit completion/);
  });

  it('ocikit version and --version print the version; --format json also the Node.js version', async () => {
    const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await expectSuccess(['version'])).stdout).toBe(`${version}\n`);
    expect((await expectSuccess(['--version'])).stdout).toBe(`${version}\n`);
    expect(await expectJson(['version'])).toEqual({ version, node: process.versions.node });
  });
});

describe('output', () => {
  it('diff --exit-code exits 1 when the targets differ and 0 when equal; without it, 0 either way', async () => {
    expect((await ocikit(['diff', SINGLE, REFERRERS, '--exit-code'])).code).toBe(1);
    expect((await ocikit(['diff', SINGLE, SINGLE, '--exit-code'])).code).toBe(0);
    expect((await ocikit(['diff', SINGLE, REFERRERS])).code).toBe(0);
    const json = await ocikit(['diff', SINGLE, REFERRERS, '--exit-code', '--json']);
    expect(json.code).toBe(1);
    expect((jsonDocument(json) as { identical: boolean }).identical).toBe(false);
    expect(json.stderr).toBe('');
  });

  it('copy -r prints one summary line; with -q only the digest, nothing on stderr', async () => {
    const e = await loadExpected();
    const dir = await tmp();
    const r = await expectSuccess(['copy', '-r', `${REFERRERS}:v1`, path.join(dir, 'a')]);
    expect(lines(r.stdout), r.stdout).toHaveLength(1);
    const q = await expectSuccess(['copy', '-r', '-q', `${REFERRERS}:v1`, path.join(dir, 'b')]);
    expect(q.stdout).toBe(`${e.referrers.image}\n`);
    expect(q.stderr).toBe('');
  });

  it('sizes in text output are written one way (e.g. 4.5 KiB), never as a count of bytes', async () => {
    const verify = await expectSuccess(['verify', SINGLE]);
    expect(verify.stdout).toMatch(/\(\d+\.\d KiB\)/);
    expect(verify.stdout).not.toMatch(/\d bytes/);
    const ls = await expectSuccess(['ls', SINGLE]);
    expect(lines(ls.stdout)[1]).toMatch(/\s631 B$/);
    const dir = await tmp();
    const packed = await expectSuccess(['pack', SINGLE, path.join(dir, 'a.tar')]);
    expect(packed.stdout).toMatch(/\d+\.\d KiB/);
    expect(packed.stdout).not.toMatch(/\d bytes/);
  });

  it('ls fits a terminal (COLUMNS) with short digests; --no-trunc and a pipe give full rows', async () => {
    const e = await loadExpected();
    const tty = (args: string) => run('script', ['-qec', `"${process.execPath}" "${BIN}" ${args}`, '/dev/null'], { env: { COLUMNS: '80' } });
    const fitted = await tty(`ls "${REFERRERS}"`);
    expect(fitted.code, fitted.stdout).toBe(0);
    const rows = fitted.stdout.split(/\r?\n/).filter(Boolean);
    expect(rows.length).toBe(5);
    for (const row of rows) expect(row.length, row).toBeLessThanOrEqual(80);
    expect(rows[1]).toContain(e.referrers.image.slice(0, 'sha256:'.length + 12));
    expect(fitted.stdout).not.toContain(e.referrers.image);
    const full = await tty(`ls "${REFERRERS}" --no-trunc`);
    expect(full.stdout).toContain(e.referrers.image);
    const piped = await expectSuccess(['ls', REFERRERS], { env: { COLUMNS: '80' } });
    expect(piped.stdout).toContain(e.referrers.image);
  });

  it('pack and unpack summarize many tags in one short text line; --json lists every one', async () => {
    const dir = await tmp();
    const layout = await copyFixture('single-image', dir);
    const tags = Array.from({ length: 120 }, (_, i) => `release-candidate-${String(i).padStart(3, '0')}`);
    await expectSuccess(['tag', `${layout}:v1`, ...tags]);
    const archive = path.join(dir, 'many.tar');
    const packed = await expectSuccess(['pack', layout, archive]);
    expect(lines(packed.stdout)).toHaveLength(1);
    expect(packed.stdout.length).toBeLessThan(400);
    const unpacked = await expectSuccess(['unpack', archive, path.join(dir, 'out')]);
    expect(lines(unpacked.stdout)).toHaveLength(1);
    expect(unpacked.stdout.length).toBeLessThan(400);
    const json = await expectJson<{ roots: Array<{ tags: string[] }> }>(['unpack', archive, path.join(dir, 'out2')]);
    expect(json.roots.flatMap((r) => r.tags).sort()).toEqual([...tags, 'v1'].sort());
    expect(await readdir(path.join(dir, 'out2'))).toContain('index.json');
  });

  it('push counts a manifest shared by two tags once, and -q prints only the images pushed', { timeout: 60_000 }, async () => {
    const reg = await registry();
    const e = await loadExpected();
    // multi-platform: tags 10 and buster name one index; it and its platform manifests were counted twice.
    const r = await expectJson<{ manifests: number; manifestsSkipped: number; images: unknown[] }>(['push', MULTI, `${reg.host}/voice/multi`]);
    expect(r.images).toHaveLength(2);
    expect(r.manifests + r.manifestsSkipped).toBe(1 + Object.keys(e.multi.manifests).length);
    const q = await expectSuccess(['push', MULTI, `${reg.host}/voice/multi-q`, '-q']);
    expect(lines(q.stdout)).toHaveLength(2);
    expect(q.stderr).toBe('');
  });
});

describe('the JSON error document', () => {
  it('names the command help as its hint when the command line is wrong', async () => {
    const r = await ocikit(['copy', SINGLE, '--json']);
    expect(r.code).toBe(2);
    const { error } = jsonDocument<JsonError>(r);
    expect([error.code, error.hint]).toEqual(['USAGE', 'ocikit copy --help']);
  });
});
