/**
 * What an artifact is, for people: an SBOM (which format), a signature (which
 * scheme), an attestation (which in-toto predicate), or something else. Read
 * from the artifact type and layer media types first; small payloads are
 * opened to find the SBOM version or the attestation's `predicateType`
 * (plain in-toto statements and DSSE envelopes around them).
 */
import type { Descriptor } from '../spec/types.js';
import { fetchDocument } from '../graph/content.js';
import type { ReadTarget } from '../graph/target.js';

export type ArtifactCategory = 'sbom' | 'signature' | 'attestation' | 'other';

export interface ArtifactSummary {
  category: ArtifactCategory;
  /** "SPDX-2.3", "CycloneDX 1.5", "cosign", "notation", "in-toto"... when known. */
  format?: string;
  /** in-toto predicate type of an attestation, when readable. */
  predicateType?: string;
  /** The digest a cosign simple-signing payload says it signs. */
  signedDigest?: string;
  /** Bytes of the artifact's layers (blobs). */
  payloadSize: number;
}

/** Payloads at most this big are opened to read their format details; bigger ones are described by type only. */
const READABLE_PAYLOAD_LIMIT = 1024 * 1024;

const PREDICATE_ANNOTATION = 'in-toto.io/predicate-type';

const RULES: Array<{ category: ArtifactCategory; test: RegExp; format?: string }> = [
  { category: 'attestation', test: /in-toto|intoto|dsse|attestation|provenance|slsa|openvex|vuln/i, format: 'in-toto' },
  { category: 'signature', test: /cosign\.artifact\.sig|simplesigning/i, format: 'cosign' },
  { category: 'signature', test: /notary|notation/i, format: 'notation' },
  { category: 'signature', test: /sigstore\.bundle/i, format: 'sigstore bundle' },
  { category: 'signature', test: /signature|jose|cose/i },
  { category: 'sbom', test: /spdx/i, format: 'SPDX' },
  { category: 'sbom', test: /cyclonedx/i, format: 'CycloneDX' },
  { category: 'sbom', test: /syft/i, format: 'Syft' },
  { category: 'sbom', test: /sbom/i },
];

/** Classify by artifact type, then by the layers' media types. */
function categorize(artifactType: string | undefined, layers: Descriptor[], annotations?: Record<string, string>): Omit<ArtifactSummary, 'payloadSize'> {
  if (annotations?.[PREDICATE_ANNOTATION]) return { category: 'attestation', format: 'in-toto', predicateType: annotations[PREDICATE_ANNOTATION] };
  for (const type of [artifactType, ...layers.map((l) => l.mediaType)]) {
    if (typeof type !== 'string') continue;
    const rule = RULES.find((r) => r.test.test(type));
    if (rule) return rule.format ? { category: rule.category, format: rule.format } : { category: rule.category };
  }
  return { category: 'other' };
}

/**
 * Describe an artifact, reading its first payload when it is small enough
 * and JSON. Never fails: what cannot be read is left out.
 */
export async function summarizeArtifact(target: ReadTarget, artifactType: string | undefined, layers: Descriptor[], annotations?: Record<string, string>): Promise<ArtifactSummary> {
  const summary: ArtifactSummary = { ...categorize(artifactType, layers, annotations), payloadSize: layers.reduce((n, l) => n + (typeof l.size === 'number' ? l.size : 0), 0) };
  const layerPredicate = layers.map((l) => l.annotations?.[PREDICATE_ANNOTATION]).find((p) => typeof p === 'string');
  if (layerPredicate && !summary.predicateType) {
    summary.category = 'attestation';
    summary.format ??= 'in-toto';
    summary.predicateType = layerPredicate;
  }
  const first = layers[0];
  if (!first || summary.category === 'other' || first.size > READABLE_PAYLOAD_LIMIT) return summary;
  const doc = await readJson(target, first);
  if (!doc) return summary;
  switch (summary.category) {
    case 'sbom':
      Object.assign(summary, sbomDetails(doc) ?? {});
      break;
    case 'attestation': {
      const statement = inTotoStatement(doc);
      if (typeof statement?.['predicateType'] === 'string') summary.predicateType = statement['predicateType'];
      break;
    }
    case 'signature': {
      const signed = (doc['critical'] as { image?: Record<string, unknown> } | undefined)?.image?.['docker-manifest-digest'];
      if (typeof signed === 'string') summary.signedDigest = signed;
      break;
    }
  }
  return summary;
}

function sbomDetails(doc: Record<string, unknown>): Partial<ArtifactSummary> | undefined {
  if (typeof doc['spdxVersion'] === 'string') return { format: doc['spdxVersion'] };
  if (doc['bomFormat'] === 'CycloneDX') return { format: typeof doc['specVersion'] === 'string' ? `CycloneDX ${doc['specVersion']}` : 'CycloneDX' };
  return undefined;
}

/** An in-toto statement as is, or the one inside a DSSE envelope (`payload` is base64). */
function inTotoStatement(doc: Record<string, unknown>): Record<string, unknown> | undefined {
  if (typeof doc['predicateType'] === 'string') return doc;
  if (typeof doc['payload'] === 'string') {
    try {
      const inner: unknown = JSON.parse(Buffer.from(doc['payload'], 'base64').toString('utf8'));
      if (isObject(inner)) return inner;
    } catch {
      // not an in-toto payload; nothing more to say
    }
  }
  return undefined;
}

async function readJson(target: ReadTarget, desc: Descriptor): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse((await fetchDocument(target, desc, READABLE_PAYLOAD_LIMIT)).toString('utf8'));
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
