/**
 * CLI glue every registry-aware command shares: the global flags turned into
 * RegistryOptions (once per command), and the --concurrency check.
 */
import { readFile } from 'node:fs/promises';
import { UsageError, type RegistryOptions } from '../index.js';

/** The global flags that shape registry access. */
export interface RegistryFlags {
  debug?: boolean;
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  username?: string;
  'password-stdin'?: boolean;
  'registry-config'?: string;
  timeout?: string;
  retries?: string;
}

/** What the options are built from: a command's flags and where debug lines go (the CLI's Context). */
export interface RegistryFlagsHolder {
  readonly args: RegistryFlags;
  readonly out: { readonly stderr: NodeJS.WritableStream };
}

/**
 * `--timeout SECONDS` (idle timeout of registry connections) and `--retries N`
 * (retries of a failed registry request), checked: a typo must not become
 * "no timeout" or a million retries.
 */
export function networkFlags(args: RegistryFlags): { timeoutMs?: number; retries?: number } {
  const out: { timeoutMs?: number; retries?: number } = {};
  if (args.timeout !== undefined) {
    const s = Number(args.timeout);
    if (Array.isArray(args.timeout) || !/^\d+(\.\d+)?$/.test(String(args.timeout)) || !(s > 0 && s <= 86_400)) throw new UsageError(`--timeout takes a number of seconds greater than 0 (at most 86400); got "${String(args.timeout)}"`);
    out.timeoutMs = Math.round(s * 1000);
  }
  if (args.retries !== undefined) {
    const n = Number(args.retries);
    // Digits only: Number('') is 0, and an empty value must not pass for "no retries".
    if (Array.isArray(args.retries) || !/^\d+$/.test(String(args.retries)) || !(n >= 0 && n <= 100)) throw new UsageError(`--retries takes a whole number from 0 to 100; got "${String(args.retries)}"`);
    out.retries = n;
  }
  return out;
}

export function checkConcurrency(n: number | undefined): number {
  const v = n ?? 5;
  if (!Number.isInteger(v) || v < 1 || v > 64) throw new UsageError('--concurrency must be a whole number from 1 to 64');
  return v;
}

const optionsCache = new WeakMap<RegistryFlagsHolder, Promise<RegistryOptions>>();

/**
 * Registry options from the global flags, built once per command (the
 * password is read from stdin once, and every target of the command shares
 * connections and tokens).
 */
export function registryOptions(ctx: RegistryFlagsHolder): Promise<RegistryOptions> {
  let p = optionsCache.get(ctx);
  if (!p) {
    p = buildRegistryOptions(ctx);
    optionsCache.set(ctx, p);
  }
  return p;
}

async function buildRegistryOptions(ctx: RegistryFlagsHolder): Promise<RegistryOptions> {
  const a = ctx.args;
  const opts: RegistryOptions = { ...networkFlags(a) };
  if (a['plain-http']) opts.plainHttp = true;
  if (a.insecure) opts.insecure = true;
  if (a['ca-file']) {
    try {
      opts.ca = await readFile(a['ca-file']);
    } catch (err) {
      throw new UsageError(`cannot read --ca-file ${a['ca-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (a['registry-config']) opts.configFile = a['registry-config'];
  if (a['password-stdin']) {
    if (a.username === undefined) throw new UsageError('--password-stdin needs --username');
    opts.username = a.username;
    opts.password = await readPasswordFromStdin();
  } else if (a.username !== undefined) {
    throw new UsageError('--username needs --password-stdin (passwords are never taken on the command line)');
  }
  if (a.debug) opts.log = (line) => ctx.out.stderr.write(`ocikit: debug: ${line}\n`);
  return opts;
}

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new UsageError('--password-stdin read an empty password from standard input');
  return text;
}
