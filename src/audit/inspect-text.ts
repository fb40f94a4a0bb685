/** `inspect` as text: one tree per root, referrers grouped by artifact type, a summary line. */
import type { ArtifactSummary } from './artifacts.js';
import { formatBytes, formatPairs, oneLine, renderTextTreeItem, type TextTreeItem, plural } from './format.js';
import { describeSignatureCheck, signatureCountsLine } from './signature-checks.js';
import { sourceOfReport, type InspectNode, type InspectReport, type InspectSource } from './inspect.js';

export function renderInspectText(report: InspectReport): string {
  return [...inspectTextLines(sourceOfReport(report))].join('\n');
}

/** The text report line by line: each root's tree is drawn when it arrives, then forgotten. */
export function* inspectTextLines(source: InspectSource): Generator<string, void, undefined> {
  yield oneLine(source.target);
  // A root is drawn as the last one (└──) or not, so each waits for the next before it is drawn.
  let pending: TextTreeItem | undefined;
  for (const r of source.roots) {
    if (pending) yield* renderTextTreeItem(pending, false);
    const item = nodeItem(r.node);
    const name = r.tags.length > 0 ? r.tags.map(oneLine).join(', ') : r.orphan ? '(untagged, subject not present)' : '(untagged)';
    pending = { ...item, text: `${name}  ${item.text}` };
  }
  if (pending) yield* renderTextTreeItem(pending, true);
  else yield '(empty)';
  const s = source.summary();
  yield `${plural(s.tags, 'tag')}, ${plural(s.images, 'image')}, ${plural(s.indexes, 'index')}, ${plural(s.artifacts, 'artifact')}; ` + `${plural(s.blobs, 'blob')}, ${formatBytes(s.totalSize)}`;
  if (s.signatures) yield signatureCountsLine(s.signatures);
  if (source.verification) {
    const v = source.verification;
    yield `verification: ${v.ok ? 'OK' : 'FAILED'} (${plural(v.errors, 'error')}, ${plural(v.warnings, 'warning')}, ${plural(v.notes, 'note')})`;
  }
}

function nodeItem(n: InspectNode): TextTreeItem {
  const parts = [n.platform, n.digest, describe(n)].filter((p): p is string => typeof p === 'string' && p !== '');
  if (n.status && n.status !== 'ok') parts.push(`[${n.status.toUpperCase()}]`);
  const notes: string[] = [];
  if (n.problem) notes.push(`problem: ${oneLine(n.problem)}`);
  if (n.cycle) notes.push('cycle: already shown above on this branch; not expanded');
  if (n.config?.labels) notes.push(`labels: ${oneLine(formatPairs(n.config.labels))}`);
  if (n.config?.problem) notes.push(`config problem: ${oneLine(n.config.problem)}`);
  if (n.config?.status && n.config.status !== 'ok') notes.push(`config ${n.config.digest} [${n.config.status.toUpperCase()}]`);
  for (const l of n.layers ?? []) if (l.status && l.status !== 'ok') notes.push(`layer ${l.digest} [${l.status.toUpperCase()}]`);
  if (n.annotations) notes.push(`annotations: ${oneLine(formatPairs(n.annotations))}`);
  for (const c of n.signatures ?? []) notes.push(oneLine(describeSignatureCheck(c)));
  const children: TextTreeItem[] = (n.children ?? []).map(nodeItem);
  for (const [type, group] of groupByType(n.referrers ?? [])) {
    children.push({ text: `referrers: ${oneLine(type)}`, children: group.map(nodeItem) });
  }
  const item: TextTreeItem = { text: parts.join('  ') };
  if (notes.length > 0) item.notes = notes;
  if (children.length > 0) item.children = children;
  return item;
}

function describe(n: InspectNode): string {
  switch (n.kind) {
    case 'index':
      return `index, ${plural(n.children?.length ?? 0, 'manifest')}`;
    case 'image': {
      const created = n.config?.created ? `, created ${oneLine(n.config.created)}` : '';
      return `image, ${plural(n.layerCount ?? 0, 'layer')}, ${formatBytes(n.layersSize ?? 0)}${created}`;
    }
    case 'artifact':
      return describeArtifact(n.artifact, n.artifactType);
    case 'unreadable':
      return 'unreadable';
  }
}

function describeArtifact(a: ArtifactSummary | undefined, artifactType: string | undefined): string {
  if (!a) return `artifact ${oneLine(artifactType ?? '')}`.trimEnd();
  const size = formatBytes(a.payloadSize);
  switch (a.category) {
    case 'sbom':
      return `SBOM${a.format ? ` ${oneLine(a.format)}` : ''}, ${size}`;
    case 'signature':
      return `signature${a.format ? ` (${oneLine(a.format)})` : ''}${a.signedDigest ? ` of ${oneLine(a.signedDigest)}` : ''}, ${size}`;
    case 'attestation':
      return `attestation${a.predicateType ? ` ${oneLine(a.predicateType)}` : ''}, ${size}`;
    default:
      return `artifact, ${size}`;
  }
}

function groupByType(nodes: InspectNode[]): Map<string, InspectNode[]> {
  const groups = new Map<string, InspectNode[]>();
  for (const n of nodes) {
    const key = n.artifactType ?? n.mediaType;
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  return groups;
}
