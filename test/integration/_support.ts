/**
 * Assertions shared by the integration tests of the foundation commands.
 * (Not a test file: vitest only collects *.test.ts.)
 */
import { expect } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FIXTURES, jsonDocument, ocikit, snapshotTree, type JsonError, type RunOptions, type RunResult } from '../helpers/cli.js';

export interface Expected {
  single: { image: string; imageSize: number; config: string; layers: string[]; tags: Record<string, string> };
  multi: { index: string; indexSize: number; manifests: Record<string, { image: string; config: string; layers: string[] }> };
  docker: { index: string; manifests: Record<string, { image: string; config: string }> };
  referrers: { image: string; sbom: string; signature: string; sbomSignature: string };
  fallback: { image: string; fallbackTag: string; fallbackIndex: string };
}

/** The digests of fixtures/expected.json, typed for these tests. */
export async function loadExpected(): Promise<Expected> {
  const all = JSON.parse(await readFile(path.join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, never>;
  return { single: all['single-image'], multi: all['multi-platform'], docker: all['docker-v2'], referrers: all['with-referrers'], fallback: all['referrers-fallback'] };
}

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function blobFile(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return path.join(layout, 'blobs', alg, hex);
}

/** Exactly one `ocikit: ...` line, optionally one `hint: ...` line, nothing else (no stack trace). */
export function expectOneErrorLine(stderr: string): void {
  const lines = stderr.replace(/\n$/, '').split('\n');
  expect(lines[0], stderr).toMatch(/^ocikit: \S/);
  expect(lines.length, stderr).toBeLessThanOrEqual(2);
  if (lines.length === 2) expect(lines[1], stderr).toMatch(/^hint: \S/);
  expect(stderr).not.toMatch(/^\s+at /m);
}

export interface FailureExpectation extends RunOptions {
  exit: 1 | 2;
  /** The OcikitError code, read from the JSON error document. */
  code?: string;
  /** A layout directory that must be byte-for-byte (and mode-for-mode) unchanged afterwards. */
  unchanged?: string;
}

/**
 * Run a command that must fail: with --format json, so that the error's code
 * can be checked from the one JSON document on stdout, while stderr carries
 * the one-line message people read.
 */
export async function expectFailure(args: string[], opts: FailureExpectation): Promise<JsonError['error']> {
  const before = opts.unchanged ? await snapshotTree(opts.unchanged) : undefined;
  const r = await ocikit([...args, '--format', 'json'], opts);
  expect(r.code, `exit status of ocikit ${args.join(' ')}; stderr: ${r.stderr}`).toBe(opts.exit);
  expectOneErrorLine(r.stderr);
  let error: JsonError['error'];
  try {
    ({ error } = jsonDocument<JsonError>(r));
  } catch {
    throw new Error(`ocikit ${args.join(' ')} printed no JSON error document; stdout: ${JSON.stringify(r.stdout)}; stderr: ${r.stderr}`);
  }
  if (opts.code) expect(error.code, error.message).toBe(opts.code);
  expect(error.exitCode).toBe(opts.exit);
  if (before) expect(await snapshotTree(opts.unchanged!)).toEqual(before);
  return error;
}

/** Run a command that must succeed; returns its result. */
export async function expectSuccess(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await ocikit(args, opts);
  expect(r.code, `ocikit ${args.join(' ')} failed: ${r.stderr}`).toBe(0);
  return r;
}

/** Run with --format json; it must succeed and print exactly one JSON document. */
export async function expectJson<T = unknown>(args: string[], opts: RunOptions = {}): Promise<T> {
  const r = await expectSuccess([...args, '--format', 'json'], opts);
  return jsonDocument<T>(r);
}

export async function readIndexJson(layout: string): Promise<{ manifests: Array<Record<string, unknown> & { digest: string; annotations?: Record<string, string> }> } & Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'));
}

export const REF_NAME = 'org.opencontainers.image.ref.name';
