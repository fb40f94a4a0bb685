/** Run the built CLI (bin/ocikit.js -> dist/) as a user would, in temp directories. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, cp } from 'node:fs/promises';
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
