/**
 * A row of inspect's tree with everything below it, in one verdict.
 *
 * A row people scan, collapsed or not, must not say "verified" while a layer
 * two levels down is corrupt: the verdict of a row is the worst of its own
 * manifest, its config, its layers, the findings attached to it, its index
 * members and its referrers (error > warning > ok). The counts are of
 * distinct objects, so an index whose seven platforms share one corrupt layer
 * says "1 damaged", not 7.
 */
import type { Finding, Severity } from './findings.js';
import type { BlobStatus } from './verify.js';

export type RollupStatus = 'error' | 'warning' | 'ok';

export interface InspectRollup {
  status: RollupStatus;
  /** Distinct objects at or below the row with an error (damaged, missing, invalid, unreadable); omitted when 0. */
  errors?: number;
  /** Distinct objects with a warning and no error (not checked, a dangling subject...); omitted when 0. */
  warnings?: number;
}

/** What a blob status means for a row: absent-ok is excused absence (--allow-missing, `urls`, `data`), not a problem. */
const STATUS_SEVERITY: Record<BlobStatus, RollupStatus> = {
  ok: 'ok',
  'absent-ok': 'ok',
  unverifiable: 'warning',
  missing: 'error',
  corrupt: 'error',
  invalid: 'error',
  unreadable: 'error',
};

export function severityOfStatus(status: BlobStatus | undefined): RollupStatus {
  return status === undefined ? 'ok' : STATUS_SEVERITY[status];
}

/** The parts of an inspect node the verdict is made of (InspectNode has them). */
export interface RollupNode {
  digest: string;
  status?: BlobStatus;
  config?: { digest: string; status?: BlobStatus };
  layers?: Array<{ digest: string; status?: BlobStatus }>;
  /** Indexes into the verification's findings of those attached to this row. */
  findings?: number[];
  children?: RollupNode[];
  referrers?: RollupNode[];
  rollup?: InspectRollup;
}

/** The objects with a problem under one row. */
class Problems {
  errors?: Set<string>;
  warnings?: Set<string>;

  mark(object: string, severity: Severity | RollupStatus): void {
    if (severity === 'error') (this.errors ??= new Set()).add(object);
    else if (severity === 'warning') (this.warnings ??= new Set()).add(object);
  }

  add(other: Problems): void {
    for (const o of other.errors ?? []) this.mark(o, 'error');
    for (const o of other.warnings ?? []) this.mark(o, 'warning');
  }

  verdict(): InspectRollup {
    const errors = this.errors?.size ?? 0;
    let warnings = 0;
    for (const o of this.warnings ?? []) if (!this.errors?.has(o)) warnings++;
    if (errors === 0 && warnings === 0) return OK;
    const status: RollupStatus = errors > 0 ? 'error' : 'warning';
    return { status, ...(errors > 0 ? { errors } : {}), ...(warnings > 0 ? { warnings } : {}) };
  }
}

/**
 * The verdict of nearly every row: one shared, frozen object, and a clean row
 * allocates nothing else either (a report of 50,000 rows is written within
 * 150 MiB, and every object per row counts there).
 */
const OK: InspectRollup = Object.freeze({ status: 'ok' });

/**
 * Set `rollup` on `node` and every node below it. Findings count under their
 * object (a missing blob's finding and its `missing` status are one problem).
 * The tree is as deep as the content, which inspect caps (MAX_NESTING_DEPTH).
 */
export function rollUp(node: RollupNode, findings: readonly Finding[]): void {
  visit(node, findings);
}

/** The problems at and below `node`, or undefined when there are none (nothing allocated for a clean row). */
function visit(node: RollupNode, findings: readonly Finding[]): Problems | undefined {
  let p = mark(undefined, node.digest, severityOfStatus(node.status));
  if (node.config) p = mark(p, node.config.digest, severityOfStatus(node.config.status));
  for (const l of node.layers ?? []) p = mark(p, l.digest, severityOfStatus(l.status));
  for (const i of node.findings ?? []) {
    const f = findings[i];
    if (f) p = mark(p, f.object, f.severity);
  }
  for (const c of node.children ?? []) p = merge(p, visit(c, findings));
  for (const r of node.referrers ?? []) p = merge(p, visit(r, findings));
  node.rollup = p ? p.verdict() : OK;
  return p;
}

function mark(p: Problems | undefined, object: string, severity: Severity | RollupStatus): Problems | undefined {
  if (severity === 'ok' || severity === 'note') return p;
  p ??= new Problems();
  p.mark(object, severity);
  return p;
}

function merge(p: Problems | undefined, below: Problems | undefined): Problems | undefined {
  if (!below) return p;
  p ??= new Problems();
  p.add(below);
  return p;
}
