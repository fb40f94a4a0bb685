/** Run the built CLI (bin/ocikit.js -> dist/) as a user would, in temp directories. */
import { spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { mkdtemp, mkdir, rm, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO_ROOT, 'bin', 'ocikit.js');
export const FIXTURES = path.join(REPO_ROOT, 'fixtures');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export interface RunOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run the child as this user (only possible when the tests run as root): permission tests as a non-root user. */
  user?: { uid: number; gid: number };
}

export function ocikit(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], opts);
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** A fresh temp directory, removed by the returned cleanup. */
export async function tempDir(prefix = 'ocikit-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Clean-ups of one test file (temp directories, registries, servers), run in
 * reverse order after all its tests. Call once at the top level of the file.
 */
export function afterFile(): { cleanups: Array<() => Promise<void>>; tmp: () => Promise<string> } {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const tmp = async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    return t.dir;
  };
  return { cleanups, tmp };
}

/** Copy a fixture layout into `dir` so a test may change it. */
export async function copyFixture(name: string, dir: string): Promise<string> {
  const dest = path.join(dir, name);
  await cp(path.join(FIXTURES, name), dest, { recursive: true });
  return dest;
}

export async function expectedDigests(): Promise<Record<string, Record<string, unknown>>> {
  const { readFile } = await import('node:fs/promises');
  return JSON.parse(await readFile(path.join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Record<string, unknown>>;
}

/** The CLI prints errors as one `ocikit: ...` line, optionally followed by a `hint: ...` line, never a stack trace. */
export function isCleanError(stderr: string): boolean {
  const lines = stderr.trimEnd().split('\n');
  return lines[0]!.startsWith('ocikit: ') && lines.slice(1).every((l) => l.startsWith('hint: ') || l.startsWith('ocikit: warning: ')) && !/\n\s+at /.test(stderr);
}

/**
 * Every entry under `root` (files, directories, symlinks, FIFOs...), by
 * relative path: its type, permission bits, and for regular files the sha256
 * of the content, for symlinks the target. Two equal snapshots mean nothing
 * under `root` was added, removed, changed or chmod-ed. FIFOs are not opened.
 */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const { lstat, readdir, readFile, readlink } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  const out: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(root, rel);
    const st = await lstat(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out[rel || '.'] = `dir ${mode}`;
      for (const name of (await readdir(abs)).sort()) await walk(path.join(rel, name));
    } else if (st.isFile()) {
      out[rel] = `file ${mode} ${createHash('sha256').update(await readFile(abs)).digest('hex')}`;
    } else if (st.isSymbolicLink()) {
      out[rel] = `symlink -> ${await readlink(abs)}`;
    } else {
      out[rel] = `${st.isFIFO() ? 'fifo' : 'special'} ${mode}`;
    }
  };
  await walk('');
  return out;
}

/** The one JSON document a `--format json` run printed on stdout (JSON.parse refuses two). */
export function jsonDocument<T = unknown>(r: RunResult): T {
  return JSON.parse(r.stdout) as T;
}

/** The error document `--format json` prints on stdout when a command fails. */
export interface JsonError {
  error: { code: string; message: string; exitCode: number; hint?: string; digest?: string; path?: string };
}

/** The uid/gid of an unprivileged user, for permission tests when running as root. */
export const NOBODY = { uid: 65534, gid: 65534 };

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Private, numbered case directories under a suite's temp dir (`base()` is
 * read lazily, after beforeAll made it): `dir()` makes an empty one,
 * `fixture(name)` copies a fixture into a new one and returns its path.
 */
export function caseDirs(base: () => string): { dir: () => Promise<string>; fixture: (name: string) => Promise<string> } {
  let n = 0;
  const dir = async () => {
    const d = path.join(base(), `case-${++n}`);
    await mkdir(d);
    return d;
  };
  return { dir, fixture: async (name: string) => copyFixture(name, await dir()) };
}
