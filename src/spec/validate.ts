/**
 * Structural validation of image-spec documents (descriptor, image manifest,
 * image index, image config, `oci-layout`) and of the pre-1.1 artifact
 * manifest. Pure: no I/O.
 *
 * Two styles of entry point:
 * - `check*` functions collect every problem (what `verify` reports);
 * - `parse*Bytes` functions throw on the first problem (what readers use).
 *
 * Unknown fields are allowed and never touched: the spec tells implementations
 * to carry what they do not understand, and a digest covers the exact bytes.
 * Rules follow image-spec v1.1 (descriptor.md, manifest.md, image-index.md,
 * config.md, image-layout.md). Where the published JSON Schemas are looser
 * (negative sizes, digest lengths, the artifactType rule) or stricter
 * (non-empty `layers`, exactly "1.0.0" in `oci-layout`), the spec text wins.
 */
import { OcikitError, IntegrityError, type ErrorCode, type ErrorFacts } from '../errors.js';
import { digestBytes, parseDigest } from '../digest/digest.js';
import { MediaType } from './media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, LegacyArtifactManifest } from './types.js';

export interface Problem {
  code: string;
  message: string;
  /** Where in the document, e.g. `manifests[2].digest`; empty for the document itself. */
  path: string;
}

export type DocumentKind = 'index' | 'manifest' | 'legacy-artifact';

export interface ParsedManifest {
  kind: DocumentKind;
  mediaType: string;
  doc: ImageManifest | ImageIndex | LegacyArtifactManifest;
}

/** Thrown by the `parse*Bytes` functions; carries every problem found, not just the first. */
export class InvalidDocumentError extends OcikitError {
  readonly problems: Problem[];
  constructor(code: ErrorCode, message: string, problems: Problem[], facts: ErrorFacts = {}) {
    super(code, message, facts);
    this.name = 'InvalidDocumentError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------
// Small grammar helpers

/**
 * RFC 6838 section 4.2 restricted names, `type/subtype`, no parameters: the
 * same grammar the image-spec schema uses for `mediaType` and `artifactType`.
 */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isMediaTypeGrammar(s: unknown): s is string {
  return typeof s === 'string' && MEDIA_TYPE.test(s);
}

/** RFC 3339 date-time (config `created`, history `created`). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

function isDateTime(s: string): boolean {
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const offH = m[7] === undefined ? 0 : Number(m[7]);
  const offM = m[8] === undefined ? 0 : Number(m[8]);
  // Seconds may be 60 (leap second); the date itself must exist.
  const daysInMonth = new Date(Date.UTC(Number(m[1]), month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60 && offH <= 23 && offM <= 59;
}

/** An absolute URI (RFC 3986 requires a scheme); whitespace is never allowed. */
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;

/** Standard base64 alphabet with padding, as RFC 4648 section 4 and Go's encoding/json produce. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// ---------------------------------------------------------------------------
// Paths and problem collection

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function at(path: string, key: string): string {
  if (!IDENTIFIER.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

function item(path: string, i: number): string {
  return `${path}[${i}]`;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Collects problems; every check appends and carries on so `verify` sees all of them. */
class Problems {
  readonly list: Problem[] = [];
  constructor(private readonly structureCode: string) {}

  add(path: string, message: string, code: string = this.structureCode): void {
    this.list.push({ code, message, path });
  }

  /** Field must be an object; returns it (or undefined after reporting). */
  object(parent: Obj, key: string, path: string, required: boolean): Obj | undefined {
    const v = parent[key];
    const p = at(path, key);
    if (v === undefined) {
      if (required) this.add(p, `${key} is required`);
      return undefined;
    }
    if (!isObject(v)) {
      this.add(p, `${key} must be an object, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  string(parent: Obj, key: string, path: string, opts: { required?: boolean; nonEmpty?: boolean; nullable?: boolean } = {}): string | undefined {
    const v = parent[key];
    const p = at(path, key);
    if (v === undefined || (v === null && opts.nullable)) {
      if (opts.required) this.add(p, `${key} is required`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.add(p, `${key} must be a string, got ${describe(v)}`);
      return undefined;
    }
    if (opts.nonEmpty && v === '') {
      this.add(p, `${key} must not be empty`);
      return undefined;
    }
    return v;
  }

  boolean(parent: Obj, key: string, path: string): void {
    const v = parent[key];
    if (v !== undefined && typeof v !== 'boolean') this.add(at(path, key), `${key} must be true or false, got ${describe(v)}`);
  }

  mediaType(parent: Obj, key: string, path: string, required: boolean): string | undefined {
    const v = this.string(parent, key, path, { required });
    if (v !== undefined && !MEDIA_TYPE.test(v)) {
      this.add(at(path, key), `${key} ${JSON.stringify(v)} is not a valid media type: expected TYPE/SUBTYPE as in RFC 6838, e.g. application/vnd.example+json`);
      return undefined;
    }
    return v;
  }

  dateTime(parent: Obj, key: string, path: string): void {
    const v = this.string(parent, key, path);
    if (v !== undefined && !isDateTime(v)) this.add(at(path, key), `${key} ${JSON.stringify(v)} is not an RFC 3339 date-time, e.g. 2024-01-31T12:00:00Z`);
  }

  /** Array of strings; `nullable` accepts JSON null (config Entrypoint/Cmd). */
  stringArray(parent: Obj, key: string, path: string, opts: { nullable?: boolean } = {}): string[] | undefined {
    const v = parent[key];
    const p = at(path, key);
    if (v === undefined || (v === null && opts.nullable)) return undefined;
    if (!Array.isArray(v)) {
      this.add(p, `${key} must be an array of strings, got ${describe(v)}`);
      return undefined;
    }
    let ok = true;
    v.forEach((s, i) => {
      if (typeof s !== 'string') {
        this.add(item(p, i), `${key}[${i}] must be a string, got ${describe(s)}`);
        ok = false;
      }
    });
    return ok ? (v as string[]) : undefined;
  }

  /** Object whose values are all strings (annotations, labels) or all objects (ports, volumes). */
  map(parent: Obj, key: string, path: string, values: 'string' | 'object', opts: { nullable?: boolean } = {}): void {
    const v = parent[key];
    const p = at(path, key);
    if (v === undefined || (v === null && opts.nullable)) return;
    if (!isObject(v)) {
      this.add(p, `${key} must be an object mapping names to ${values}s, got ${describe(v)}`);
      return;
    }
    for (const [k, val] of Object.entries(v)) {
      const ok = values === 'string' ? typeof val === 'string' : isObject(val);
      if (!ok) this.add(at(p, k), `${key} value for ${JSON.stringify(k)} must be ${values === 'string' ? 'a string' : 'an object'}, got ${describe(val)}`);
    }
  }

  /** A digest field; grammar and algorithm problems keep parseDigest's code. */
  digest(value: unknown, path: string, name: string, required: boolean): boolean {
    if (value === undefined) {
      if (required) this.add(path, `${name} is required`);
      return false;
    }
    if (typeof value !== 'string') {
      this.add(path, `${name} must be a string, got ${describe(value)}`, 'INVALID_DIGEST');
      return false;
    }
    try {
      parseDigest(value);
      return true;
    } catch (err) {
      if (err instanceof OcikitError) this.add(path, err.message, err.code);
      else throw err;
      return false;
    }
  }

  schemaVersion(doc: Obj): void {
    const v = doc['schemaVersion'];
    if (v === undefined) this.add('schemaVersion', 'schemaVersion is required and must be 2');
    else if (v !== 2) this.add('schemaVersion', `schemaVersion must be 2, got ${describe(v)}`);
  }
}

// ---------------------------------------------------------------------------
// Descriptors

/** All problems of one descriptor; `path` prefixes every problem path. */
export function checkDescriptor(d: unknown, path = ''): Problem[] {
  const out = new Problems('INVALID_MANIFEST');
  descriptorInto(out, d, path);
  return out.list;
}

function descriptorInto(out: Problems, d: unknown, path: string): void {
  if (!isObject(d)) {
    out.add(path, `descriptor must be an object, got ${describe(d)}`);
    return;
  }
  out.mediaType(d, 'mediaType', path, true);
  const digestOk = out.digest(d['digest'], at(path, 'digest'), 'digest', true);
  const sizeOk = sizeInto(out, d, path);
  const urls = out.stringArray(d, 'urls', path);
  urls?.forEach((u, i) => {
    if (!URI.test(u)) out.add(item(at(path, 'urls'), i), `urls[${i}] ${JSON.stringify(u)} is not an absolute URI (RFC 3986)`);
  });
  out.map(d, 'annotations', path, 'string');
  out.mediaType(d, 'artifactType', path, false);
  platformInto(out, d, path);

  const data = d['data'];
  if (data !== undefined) {
    if (typeof data !== 'string') out.add(at(path, 'data'), `data must be a base64 string, got ${describe(data)}`);
    // Without a trustworthy digest and size there is nothing to compare the data with.
    else if (digestOk && sizeOk) {
      try {
        verifyDescriptorData(d as Descriptor);
      } catch (err) {
        if (!(err instanceof OcikitError)) throw err;
        out.add(at(path, 'data'), err.message, err.code);
      }
    }
  }
}

function sizeInto(out: Problems, d: Obj, path: string): boolean {
  const v = d['size'];
  const p = at(path, 'size');
  if (v === undefined) {
    out.add(p, 'size is required');
    return false;
  }
  // int64 in the spec; JavaScript numbers are exact only up to 2^53 - 1, which is 8 PiB.
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    out.add(p, `size must be a non-negative integer, got ${describe(v)}`);
    return false;
  }
  return true;
}

function platformInto(out: Problems, d: Obj, path: string): void {
  const p = out.object(d, 'platform', path, false);
  if (!p) return;
  const pp = at(path, 'platform');
  out.string(p, 'architecture', pp, { required: true, nonEmpty: true });
  out.string(p, 'os', pp, { required: true, nonEmpty: true });
  out.string(p, 'os.version', pp);
  out.stringArray(p, 'os.features', pp);
  out.string(p, 'variant', pp);
  out.stringArray(p, 'features', pp);
}

/**
 * Check an embedded `data` field: valid base64 whose decoded bytes have the
 * descriptor's size and digest. No-op when `data` is absent.
 */
export function verifyDescriptorData(desc: Descriptor): void {
  const data: unknown = desc.data;
  if (data === undefined) return;
  if (typeof data !== 'string' || !BASE64.test(data)) {
    throw new OcikitError('INVALID_MANIFEST', `descriptor ${desc.digest} has a data field that is not valid base64`, {
      digest: desc.digest,
      hint: 'data must be standard base64 (RFC 4648) with padding',
    });
  }
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length !== desc.size) {
    throw new IntegrityError('SIZE_MISMATCH', `embedded data of ${desc.digest} is ${bytes.length} bytes but the descriptor says ${desc.size}`, {
      digest: desc.digest,
      expected: desc.size,
      actual: bytes.length,
    });
  }
  const { algorithm } = parseDigest(desc.digest);
  const actual = digestBytes(bytes, algorithm);
  if (actual !== desc.digest) {
    throw new IntegrityError('DIGEST_MISMATCH', `embedded data does not match its descriptor: expected ${desc.digest}, got ${actual}`, {
      digest: desc.digest,
      expected: desc.digest,
      actual,
    });
  }
}

function descriptorArrayInto(out: Problems, doc: Obj, key: string, required: boolean): void {
  const v = doc[key];
  if (v === undefined) {
    if (required) out.add(key, `${key} is required (an array of descriptors, possibly empty)`);
    return;
  }
  if (!Array.isArray(v)) {
    out.add(key, `${key} must be an array of descriptors, got ${describe(v)}`);
    return;
  }
  v.forEach((d, i) => descriptorInto(out, d, item(key, i)));
}

// ---------------------------------------------------------------------------
// Manifests and indexes

function kindOf(mediaType: string | undefined): DocumentKind | undefined {
  switch (mediaType) {
    case MediaType.ImageIndex:
    case MediaType.DockerManifestList:
      return 'index';
    case MediaType.ImageManifest:
    case MediaType.DockerManifest:
      return 'manifest';
    case MediaType.LegacyArtifactManifest:
      return 'legacy-artifact';
    default:
      return undefined;
  }
}

/**
 * The media type a document declares, or, when it declares none (the field is
 * only a SHOULD), the one its shape implies.
 */
export function detectManifestMediaType(doc: Record<string, unknown>): string | undefined {
  const declared = doc['mediaType'];
  if (typeof declared === 'string') return declared;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(doc, k);
  if (has('manifests')) return MediaType.ImageIndex;
  if (has('config') && has('layers')) return MediaType.ImageManifest;
  if (has('blobs') && typeof doc['artifactType'] === 'string') return MediaType.LegacyArtifactManifest;
  return undefined;
}

interface Classified {
  kind: DocumentKind;
  mediaType: string;
}

/** Decide what the document is, reporting a disagreement with what the caller expected. */
function classifyInto(out: Problems, doc: Obj, expectedMediaType: string | undefined): Classified | undefined {
  const declared = out.mediaType(doc, 'mediaType', '', false);
  if (declared !== undefined && expectedMediaType !== undefined && declared !== expectedMediaType) {
    out.add('mediaType', `document says mediaType ${declared} but was expected to be ${expectedMediaType}`);
  }
  const mediaType = expectedMediaType ?? declared ?? (doc['mediaType'] === undefined ? detectManifestMediaType(doc) : undefined);
  if (mediaType === undefined) {
    if (doc['mediaType'] === undefined) {
      out.add('', 'cannot tell what kind of document this is: no mediaType, and neither manifests (index) nor config and layers (image manifest)');
    }
    return undefined;
  }
  const kind = kindOf(mediaType);
  if (kind === undefined) {
    out.add('mediaType', `unsupported manifest media type ${mediaType}: expected an OCI image manifest or index (or Docker v2 equivalent)`);
    return undefined;
  }
  return { kind, mediaType };
}

/**
 * Every problem of a manifest, index or legacy artifact manifest.
 * `expectedMediaType` is what the referring descriptor (or HTTP response) said
 * the document is; the document's own `mediaType`, when present, must agree.
 */
export function checkManifestDocument(doc: unknown, expectedMediaType?: string): Problem[] {
  const out = new Problems('INVALID_MANIFEST');
  manifestInto(out, doc, expectedMediaType);
  return out.list;
}

function manifestInto(out: Problems, doc: unknown, expectedMediaType: string | undefined): Classified | undefined {
  if (!isObject(doc)) {
    out.add('', `a manifest must be a JSON object, got ${describe(doc)}`);
    return undefined;
  }
  const c = classifyInto(out, doc, expectedMediaType);
  if (!c) return undefined;

  switch (c.kind) {
    case 'index':
      out.schemaVersion(doc);
      descriptorArrayInto(out, doc, 'manifests', true);
      break;
    case 'manifest': {
      out.schemaVersion(doc);
      if (doc['config'] === undefined) out.add('config', 'config is required (use the empty descriptor for artifacts without configuration)');
      else descriptorInto(out, doc['config'], 'config');
      descriptorArrayInto(out, doc, 'layers', true);
      const config = doc['config'];
      if (isObject(config) && config['mediaType'] === MediaType.Empty && doc['artifactType'] === undefined) {
        out.add('artifactType', `artifactType is required when config.mediaType is ${MediaType.Empty}`);
      }
      break;
    }
    case 'legacy-artifact':
      // The media type is the only thing that tells this format apart, so it must be written.
      if (doc['mediaType'] === undefined) out.add('mediaType', `mediaType is required and must be ${MediaType.LegacyArtifactManifest}`);
      descriptorArrayInto(out, doc, 'blobs', false);
      break;
  }
  out.mediaType(doc, 'artifactType', '', false);
  if (doc['subject'] !== undefined) descriptorInto(out, doc['subject'], 'subject');
  out.map(doc, 'annotations', '', 'string');
  return c;
}

function decodeJson(bytes: Uint8Array, what: string, source: string | undefined, code: ErrorCode): unknown {
  const where = source ? ` ${source}` : '';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new InvalidDocumentError(code, `${what}${where} is not valid UTF-8`, [{ code, message: 'not valid UTF-8', path: '' }], { cause, path: source });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new InvalidDocumentError(code, `${what}${where} is not valid JSON: ${detail}`, [{ code, message: `not valid JSON: ${detail}`, path: '' }], { cause, path: source });
  }
}

function fail(code: ErrorCode, what: string, source: string | undefined, problems: Problem[]): never {
  const first = problems[0]!;
  const where = source ? ` ${source}` : '';
  const loc = first.path ? `${first.path}: ` : '';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new InvalidDocumentError(code, `invalid ${what}${where}: ${loc}${first.message}${more}`, problems, { path: source });
}

/**
 * Parse manifest bytes (already size-capped and digest-checked by the caller)
 * and validate them. Throws INVALID_MANIFEST naming the first problem.
 */
export function parseManifestBytes(bytes: Uint8Array, expectedMediaType?: string, source?: string): ParsedManifest {
  const doc = decodeJson(bytes, 'manifest', source, 'INVALID_MANIFEST');
  const out = new Problems('INVALID_MANIFEST');
  const c = manifestInto(out, doc, expectedMediaType);
  if (out.list.length > 0 || !c) fail('INVALID_MANIFEST', 'manifest', source, out.list);
  const declared = (doc as Obj)['mediaType'];
  return {
    kind: c.kind,
    mediaType: typeof declared === 'string' ? declared : c.mediaType,
    doc: doc as ImageManifest | ImageIndex | LegacyArtifactManifest,
  };
}

/**
 * The artifact type the referrers API reports for a manifest: its
 * `artifactType`, else its config's media type (manifest.md, "Guidelines for
 * Artifact Usage").
 */
export function effectiveArtifactType(m: ImageManifest | ImageIndex | LegacyArtifactManifest): string | undefined {
  if (typeof m.artifactType === 'string') return m.artifactType;
  const config = (m as Obj)['config'];
  if (isObject(config) && typeof config['mediaType'] === 'string') return config['mediaType'];
  return undefined;
}

// ---------------------------------------------------------------------------
// Image config

/** Every problem of an image configuration (`application/vnd.oci.image.config.v1+json`). */
export function checkImageConfig(doc: unknown): Problem[] {
  const out = new Problems('INVALID_MANIFEST');
  if (!isObject(doc)) {
    out.add('', `an image config must be a JSON object, got ${describe(doc)}`);
    return out.list;
  }
  out.dateTime(doc, 'created', '');
  out.string(doc, 'author', '');
  // Required, but may be empty: the image-spec's schema asks only for a string, and
  // go-containerregistry's empty image (the config of every cosign signature and
  // attestation manifest) writes "architecture":"" and "os":"". Such a config
  // describes no runnable image, which is not damage. A platform in an index
  // is different: there an empty os/architecture selects nothing (platformInto).
  out.string(doc, 'architecture', '', { required: true });
  out.string(doc, 'os', '', { required: true });
  out.string(doc, 'os.version', '');
  out.stringArray(doc, 'os.features', '');
  out.string(doc, 'variant', '');

  const config = out.object(doc, 'config', '', false);
  if (config) {
    const p = 'config';
    out.string(config, 'User', p);
    out.map(config, 'ExposedPorts', p, 'object');
    out.stringArray(config, 'Env', p);
    out.stringArray(config, 'Entrypoint', p, { nullable: true });
    out.stringArray(config, 'Cmd', p, { nullable: true });
    out.map(config, 'Volumes', p, 'object', { nullable: true });
    out.string(config, 'WorkingDir', p);
    out.map(config, 'Labels', p, 'string', { nullable: true });
    out.string(config, 'StopSignal', p);
    out.boolean(config, 'ArgsEscaped', p);
  }

  const rootfs = out.object(doc, 'rootfs', '', true);
  if (rootfs) {
    const type = out.string(rootfs, 'type', 'rootfs', { required: true });
    if (type !== undefined && type !== 'layers') out.add('rootfs.type', `rootfs.type must be "layers", got ${describe(type)}`);
    if (rootfs['diff_ids'] === undefined) out.add('rootfs.diff_ids', 'rootfs.diff_ids is required');
    const ids = out.stringArray(rootfs, 'diff_ids', 'rootfs');
    ids?.forEach((id, i) => out.digest(id, `rootfs.diff_ids[${i}]`, `rootfs.diff_ids[${i}]`, true));
  }

  const history = doc['history'];
  if (history !== undefined) {
    if (!Array.isArray(history)) out.add('history', `history must be an array, got ${describe(history)}`);
    else
      history.forEach((h, i) => {
        const p = item('history', i);
        if (!isObject(h)) {
          out.add(p, `history[${i}] must be an object, got ${describe(h)}`);
          return;
        }
        out.dateTime(h, 'created', p);
        out.string(h, 'author', p);
        out.string(h, 'created_by', p);
        out.string(h, 'comment', p);
        out.boolean(h, 'empty_layer', p);
      });
  }
  return out.list;
}

/** Parse and validate image config bytes; throws INVALID_MANIFEST naming the first problem. */
export function parseImageConfigBytes(bytes: Uint8Array, source?: string): ImageConfig {
  const doc = decodeJson(bytes, 'image config', source, 'INVALID_MANIFEST');
  const problems = checkImageConfig(doc);
  if (problems.length > 0) fail('INVALID_MANIFEST', 'image config', source, problems);
  return doc as ImageConfig;
}

// ---------------------------------------------------------------------------
// oci-layout

/**
 * The `oci-layout` file. The spec's current version is "1.0.0"; any 1.x.y is
 * accepted so that a layout written by a newer minor version still opens
 * (minor versions are backward compatible), while a 2.x layout is refused.
 */
export function checkOciLayoutFile(doc: unknown): Problem[] {
  const out = new Problems('INVALID_LAYOUT');
  if (!isObject(doc)) {
    out.add('', `oci-layout must be a JSON object, got ${describe(doc)}`);
    return out.list;
  }
  const v = out.string(doc, 'imageLayoutVersion', '', { required: true });
  if (v !== undefined && !/^1\.\d+\.\d+$/.test(v)) {
    out.add('imageLayoutVersion', `unsupported imageLayoutVersion ${JSON.stringify(v)}: ocikit reads layout version 1.x.y`);
  }
  return out.list;
}
