/**
 * The crash-safety harness: run a command of the built CLI, kill it with
 * SIGKILL after a random delay, check that what it left on disk is still a
 * sound layout, then run it again and check that the job gets done.
 *
 * Delays come from a seeded PRNG, so a failure can be replayed: every suite
 * prints its seed, and `OCIKIT_CRASH_SEED=<seed>` reruns the same delays
 * (`OCIKIT_CRASH_TRIALS=<n>` changes how many). They are drawn from
 * [0, 1.2 × the duration of an uncrashed run], so kills land everywhere:
 * during start-up, in the middle of blob writes, around the index.json
 * update, and (the last sixth) after the command has finished.
 */
import { expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, REPO_ROOT, ocikit } from './cli.js';

/** mulberry32: tiny, fast, and the same sequence on every machine for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CrashPlan {
  seed: number;
  trials: number;
  random: () => number;
}

/**
 * The seed and trial count of one suite. Each command gets its own stream
 * (the seed mixed with the command's name), so replaying one suite with a
 * seed does not depend on which other suites ran.
 */
export function crashPlan(command: string, defaultTrials = 20): CrashPlan {
  const envSeed = process.env['OCIKIT_CRASH_SEED'];
  const seed = envSeed !== undefined && envSeed !== '' ? Number(envSeed) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  const envTrials = process.env['OCIKIT_CRASH_TRIALS'];
  const trials = envTrials !== undefined && envTrials !== '' ? Math.max(1, Number(envTrials)) : defaultTrials;
  let mixed = seed;
  for (const ch of command) mixed = (Math.imul(mixed ^ ch.charCodeAt(0), 0x9e3779b1) + 1) >>> 0;
  console.log(`crash ${command}: seed ${seed}, ${trials} trials (replay with OCIKIT_CRASH_SEED=${seed})`);
  return { seed, trials, random: seededRandom(mixed) };
}

/** A kill delay in [0, 1.2 × durationMs). */
export function drawDelay(plan: CrashPlan, durationMs: number): number {
  return Math.floor(plan.random() * 1.2 * durationMs);
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves when the process is gone: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): { stdout: string; stderr: string };
}

/** Start `ocikit ARGS` without waiting for it. */
export function spawnOcikit(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  // Drain both pipes for the child's whole life: a full pipe would block it.
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

/** SIGKILL `proc` after `delayMs`, unless it ended first. True when the kill is what ended it. */
export async function killAfter(proc: Spawned, delayMs: number): Promise<boolean> {
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), delayMs);
  const { signal } = await proc.exited;
  clearTimeout(timer);
  return signal === 'SIGKILL';
}

/** Wall time of a whole run of `ocikit ARGS`, which must succeed. */
export async function timeRun(args: string[], env: Record<string, string> = {}): Promise<number> {
  const start = performance.now();
  const res = await ocikit(args, { env });
  if (res.code !== 0) throw new Error(`ocikit ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
  return performance.now() - start;
}

/**
 * What a killed command must leave: `ocikit verify DIR` passes (leftover
 * temp files, leases and locks are at most notes), index.json parses, and
 * every file under blobs/ hashes to its name (verify reads only what index.json
 * reaches and the files named like digests; this reads everything).
 *
 * The verify runs in this process, through the built library's
 * `LayoutDir.open` + `verifyTarget`, exactly what the `verify` command calls:
 * a Node start-up per trial (~0.4 s, more under load) would otherwise cost
 * the suite most of its time budget. `OCIKIT_CRASH_VERIFY=cli` spawns
 * `ocikit verify DIR` instead.
 */
export async function expectSoundLayout(dir: string, context: string): Promise<void> {
  const problem = process.env['OCIKIT_CRASH_VERIFY'] === 'cli' ? await verifyWithCli(dir) : await verifyInProcess(dir);
  if (problem !== undefined) throw new Error(`${context}: ocikit verify ${dir} failed:\n${problem}`);
  try {
    JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
  } catch (err) {
    throw new Error(`${context}: index.json does not parse: ${(err as Error).message}`);
  }
  for (const alg of await readdir(path.join(dir, 'blobs'))) {
    for (const name of await readdir(path.join(dir, 'blobs', alg))) {
      const actual = await hashFile(path.join(dir, 'blobs', alg, name), alg);
      if (actual !== name) throw new Error(`${context}: blobs/${alg}/${name} holds content that hashes to ${actual}`);
    }
  }
}

async function verifyWithCli(dir: string): Promise<string | undefined> {
  const res = await ocikit(['verify', dir]);
  return res.code === 0 ? undefined : `exit ${res.code}\n${res.stdout}${res.stderr}`;
}

interface BuiltLibrary {
  LayoutDir: { open(dir: string): Promise<{ close(): Promise<void> }> };
  verifyTarget(target: unknown): Promise<{ ok: boolean }>;
  renderVerifyText(report: unknown): string;
}

async function verifyInProcess(dir: string): Promise<string | undefined> {
  const lib = (await import(pathToFileURL(path.join(REPO_ROOT, 'dist', 'index.js')).href)) as BuiltLibrary;
  let layout;
  try {
    layout = await lib.LayoutDir.open(dir);
  } catch (err) {
    return `cannot open the layout: ${(err as Error).message}`;
  }
  try {
    const report = await lib.verifyTarget(layout);
    return report.ok ? undefined : lib.renderVerifyText(report);
  } finally {
    await layout.close();
  }
}

/**
 * A command that creates its layout (pull, unpack into a new directory) may
 * be killed before the layout exists. `oci-layout` is written last by init,
 * so until it is there the directory is not a layout yet and holds at most
 * init's first steps; the re-run must take it over.
 */
export async function expectSoundLayoutOrNotYetOne(dir: string, context: string): Promise<'layout' | 'not yet'> {
  const isLayout = await stat(path.join(dir, 'oci-layout')).then(
    () => true,
    () => false,
  );
  if (isLayout) {
    await expectSoundLayout(dir, context);
    return 'layout';
  }
  const names = await readdir(dir).catch(() => [] as string[]);
  const unexpected = names.filter((n) => n !== 'blobs' && n !== 'index.json' && !n.startsWith('.ocikit-tmp-'));
  if (unexpected.length > 0) throw new Error(`${context}: ${dir} has no oci-layout but holds ${unexpected.join(', ')}`);
  return 'not yet';
}

async function hashFile(file: string, alg: string): Promise<string> {
  const hash = createHash(alg);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** How the trials of one suite went, for the log and the README. */
export class CrashTally {
  killed = 0;
  finished = 0;
  /** The slowest re-run: a stale lock of the killed process would show here. */
  slowestRerunMs = 0;
  constructor(private readonly command: string) {}
  rerun(ms: number): void {
    this.slowestRerunMs = Math.max(this.slowestRerunMs, ms);
  }
  record(killed: boolean): void {
    if (killed) this.killed++;
    else this.finished++;
  }
  report(plan: CrashPlan, durationMs: number): string {
    const line = `crash ${this.command}: seed ${plan.seed}: ${this.killed + this.finished} trials (${this.killed} killed mid-run, ${this.finished} finished before the kill), uncrashed run ${Math.round(durationMs)} ms, slowest re-run ${Math.round(this.slowestRerunMs)} ms`;
    console.log(line);
    return line;
  }
}

export interface CrashCase {
  /** The command line, run once killed and once to completion. */
  args: string[];
  /** The layout the command writes. */
  dir: string;
  env?: Record<string, string>;
}

export interface CrashSuite {
  command: string;
  /** A fresh case for trial `n` (-1 and 0 are the uncrashed reference runs). */
  prepare(n: number): Promise<CrashCase>;
  /** The job is done: what an uncrashed run leaves. */
  expectDone(c: CrashCase): Promise<void>;
  /** The command may create `dir` (it may not exist yet after an early kill). */
  createsDir?: boolean;
  /** What a kill must leave, when the command writes something other than a layout directory (an archive); default: a sound layout at `dir`. */
  expectSound?(c: CrashCase, context: string): Promise<void>;
  /** After a trial passed (remove its files). */
  cleanup?(c: CrashCase): Promise<void>;
}

/**
 * The trials of one command: time an uncrashed run (which must do the
 * job), then for each trial kill a fresh run after a random delay, check the
 * layout, re-run, and check the job got done. Returns the tally line.
 */
export async function runCrashTrials(suite: CrashSuite): Promise<string> {
  const plan = crashPlan(suite.command);
  // Two uncrashed runs, the faster one sets the scale: the first pays for cold caches, and a scale
  // that is too long would let most kills arrive after the command has finished.
  let duration = Infinity;
  for (const n of [-1, 0]) {
    const reference = await suite.prepare(n);
    duration = Math.min(duration, await timeRun(reference.args, reference.env));
    await suite.expectDone(reference);
    await suite.cleanup?.(reference);
  }
  const tally = new CrashTally(suite.command);
  for (let n = 1; n <= plan.trials; n++) {
    const c = await suite.prepare(n);
    const delay = drawDelay(plan, duration);
    const context = `${suite.command} trial ${n} (OCIKIT_CRASH_SEED=${plan.seed}, SIGKILL after ${delay} ms)`;
    const proc = spawnOcikit(c.args, c.env);
    const killed = await killAfter(proc, delay);
    tally.record(killed);
    if (!killed) {
      const { code } = await proc.exited;
      if (code !== 0) throw new Error(`${context}: the run that was not killed exited ${code}: ${proc.output().stderr}`);
    }
    if (suite.expectSound) await suite.expectSound(c, context);
    else if (suite.createsDir) await expectSoundLayoutOrNotYetOne(c.dir, context);
    else await expectSoundLayout(c.dir, context);
    const start = performance.now();
    const rerun = await ocikit(c.args, { env: c.env ?? {} });
    if (rerun.code !== 0) throw new Error(`${context}: the re-run exited ${rerun.code}: ${rerun.stderr}`);
    tally.rerun(performance.now() - start);
    await suite.expectDone(c).catch((err: Error) => {
      throw new Error(`${context}: after the re-run: ${err.message}`);
    });
    await suite.cleanup?.(c);
  }
  return tally.report(plan, duration);
}

/**
 * Wait until `dir` holds a file whose name starts with `prefix`, then stop
 * the process (SIGSTOP) and check the file is still there: the signal is
 * then sure to arrive while the command is writing it, however busy the
 * machine. The signal is sent, and SIGCONT lets the process handle it.
 */
export async function signalWhileWriting(proc: Spawned, dir: string, prefix: string, signal: NodeJS.Signals): Promise<void> {
  const deadline = Date.now() + 30_000;
  let ended = false;
  void proc.exited.then(() => (ended = true));
  for (;;) {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
    if (names.length > 0) {
      proc.child.kill('SIGSTOP');
      const still = names.filter((n) => existsSync(path.join(dir, n)));
      expect(still, `the temp file was gone before the signal; make the test data larger (${JSON.stringify(proc.output())})`).not.toEqual([]);
      proc.child.kill(signal);
      proc.child.kill('SIGCONT');
      return;
    }
    if (ended || Date.now() > deadline) throw new Error(`no ${prefix} file appeared in ${dir}: ${JSON.stringify(proc.output())}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
