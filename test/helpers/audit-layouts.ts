/**
 * Helpers for the audit tests (verify, inspect, diff): edit a private copy
 * of a fixture layout the way a damaged or hand-made layout would look.
 * Blobs are written directly, bypassing ocikit, so tests can store exactly
 * the bytes they want, corrupt ones included.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ocikit, type RunOptions } from './cli.js';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  [extra: string]: unknown;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function blobFile(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layout, 'blobs', alg!, hex!);
}

/** Store bytes under their true digest. */
export async function storeBlob(layout: string, bytes: Buffer | string, mediaType = 'application/octet-stream'): Promise<Desc> {
  const buf = Buffer.from(bytes);
  const digest = sha256(buf);
  await mkdir(path.dirname(blobFile(layout, digest)), { recursive: true });
  await writeFile(blobFile(layout, digest), buf);
  return { mediaType, digest, size: buf.length };
}

/** Store bytes under a digest they do not have (corruption, impossible cycles). */
export async function storeAt(layout: string, digest: string, bytes: Buffer | string): Promise<void> {
  await mkdir(path.dirname(blobFile(layout, digest)), { recursive: true });
  await writeFile(blobFile(layout, digest), bytes);
}

export function storeJson(layout: string, doc: unknown, mediaType: string): Promise<Desc> {
  return storeBlob(layout, JSON.stringify(doc), mediaType);
}

export async function readJson<T = Record<string, unknown>>(layout: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(blobFile(layout, digest), 'utf8')) as T;
}

export interface IndexJson {
  schemaVersion: number;
  mediaType?: string;
  manifests: Desc[];
  [extra: string]: unknown;
}

export async function editIndex(layout: string, edit: (index: IndexJson) => IndexJson | void): Promise<void> {
  const file = path.join(layout, 'index.json');
  const index = JSON.parse(await readFile(file, 'utf8')) as IndexJson;
  await writeFile(file, JSON.stringify(edit(index) ?? index));
}

export function tagged(desc: Desc, tag: string): Desc {
  return { ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } };
}

export interface Finding {
  severity: 'error' | 'warning' | 'note';
  code: string;
  object: string;
  message: string;
  location?: string;
}

export interface VerifyJson {
  target: string;
  ok: boolean;
  allowMissing: boolean;
  summary: { errors: number; warnings: number; notes: number; manifests: number; blobs: number; bytes: number };
  findings: Finding[];
  blobs: Array<{ digest: string; size: number; status: string; referenced: boolean }>;
}

/** `ocikit verify --format json ...`: the exit status and the parsed report (`R`: a report type with more fields). */
export async function verifyJson<R = VerifyJson>(args: string[], opts: RunOptions = {}): Promise<{ code: number; report: R; stderr: string }> {
  const r = await ocikit(['verify', ...args, '--format', 'json'], opts);
  let report: R;
  try {
    report = JSON.parse(r.stdout) as R;
  } catch {
    throw new Error(`verify printed no JSON report (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

/** Codes of the findings of one severity (or all), sorted, duplicates kept. */
export function codes(report: VerifyJson, severity?: Finding['severity']): string[] {
  return report.findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code).sort();
}

export function findingsFor(report: VerifyJson, object: string): Finding[] {
  return report.findings.filter((f) => f.object === object);
}

/** Store an OCI 1.1 artifact (empty config, these layers, a subject) and list it untagged in index.json, as oras does. */
export async function addArtifact(
  layout: string,
  opts: { artifactType: string; subject: Desc; layers: Array<{ bytes: string | Buffer; mediaType: string; annotations?: Record<string, string> }>; annotations?: Record<string, string> },
): Promise<Desc> {
  const layers: Desc[] = [];
  for (const l of opts.layers) {
    const d = await storeBlob(layout, l.bytes, l.mediaType);
    layers.push(l.annotations ? { ...d, annotations: l.annotations } : d);
  }
  await storeBlob(layout, '{}', EMPTY.mediaType);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: opts.artifactType,
    config: EMPTY,
    layers,
    subject: { mediaType: opts.subject.mediaType, digest: opts.subject.digest, size: opts.subject.size },
  };
  if (opts.annotations) manifest['annotations'] = opts.annotations;
  const desc = { ...(await storeJson(layout, manifest, OCI_MANIFEST)), artifactType: opts.artifactType };
  await editIndex(layout, (i) => void i.manifests.push(desc));
  return desc;
}

/** An in-toto statement with this predicate type, about `subject`. */
export function inTotoStatement(predicateType: string, subject: Desc): string {
  return JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'image', digest: { sha256: subject.digest.split(':')[1] } }],
    predicateType,
    predicate: {},
  });
}

/** The same statement wrapped in a DSSE envelope (base64 payload, as cosign attest writes). */
export function dsseEnvelope(statement: string): string {
  return JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: Buffer.from(statement).toString('base64'), signatures: [] });
}
