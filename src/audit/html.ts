/**
 * `inspect --html`: one self-contained HTML file an auditor opens offline.
 *
 * Everything is inline (CSS, script, data); a Content-Security-Policy forbids
 * every fetch, so the page cannot reach the network even by mistake. The
 * report travels as JSON in a non-executable script element and the page's
 * script builds the tree with textContent only: annotations, labels and tags
 * come from somebody else's layout and are never interpreted as HTML.
 */
import { writeChunksAtomic } from '../fs/atomic.js';
import { jsonChunks } from '../util/json-chunks.js';
import { inspectJson, sourceOfReport, type InspectReport, type InspectSource } from './inspect.js';
import type { TargetDigest } from './target-digest.js';
import { sourceDateEpoch } from '../targets/archive-writer.js';
import { UsageError } from '../errors.js';

/**
 * What the report says about itself, so that a printed or archived copy can
 * be tied to what was inspected, when, and by which ocikit. Written into the
 * page as static markup (it is there even with scripts off).
 */
export interface ReportHeader {
  /** The ocikit version that wrote the report. */
  version?: string;
  /** When, ISO 8601 UTC. The CLI takes SOURCE_DATE_EPOCH when set, so that a report can be reproduced byte for byte. */
  generatedAt?: string;
  /** The target as the user gave it (the report's own `target` is how ocikit opened it, e.g. "layout ./dir"). */
  input?: string;
  /** What pins the target: the selected manifest's digest, or the layout's index.json digest (target-digest.ts). */
  digest?: TargetDigest;
}

/**
 * The header's time, ISO 8601 UTC to the second: SOURCE_DATE_EPOCH when set
 * (reproducible-builds.org: the same content then gives the same bytes, as
 * pack's archives do), else now. A malformed value is refused (USAGE) rather
 * than replaced by now, which would quietly make the report irreproducible.
 */
export function reportTimestamp(env: NodeJS.ProcessEnv = process.env): string {
  const set = env['SOURCE_DATE_EPOCH'] !== undefined && env['SOURCE_DATE_EPOCH'] !== '';
  const time = new Date(set ? sourceDateEpoch(env) * 1000 : Date.now());
  if (Number.isNaN(time.getTime())) throw new UsageError(`SOURCE_DATE_EPOCH is past the last date a timestamp can hold (year 275760), got ${JSON.stringify(env['SOURCE_DATE_EPOCH'])}`);
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function renderInspectHtml(report: InspectReport, header: ReportHeader = {}): string {
  return [...inspectHtmlChunks(sourceOfReport(report), header)].join('');
}

/**
 * The page in pieces, for writing to a file as it is produced: the report's
 * JSON, the bulk of the page, is serialized root by root (see Inspection).
 */
function* inspectHtmlChunks(source: InspectSource, header: ReportHeader): Generator<string, void, undefined> {
  yield pageHead(source.target, header);
  // The same document as `inspect --json`, without spaces.
  for (const chunk of jsonChunks(inspectJson(source), { compact: true })) yield escapeForScript(chunk);
  yield pageTail();
}

/** Write the page to `file` atomically (temp file, then rename) as it is produced. */
export async function writeInspectHtml(file: string, source: InspectSource, header: ReportHeader = {}): Promise<void> {
  await writeChunksAtomic(file, inspectHtmlChunks(source, header));
}

/** The header's facts as a definition list; each value escaped, each with an id a reader (or a test) can find. */
function headerFacts(header: ReportHeader): string {
  const facts: Array<[id: string, term: string, value: string]> = [];
  if (header.input !== undefined) facts.push(['meta-target', 'target', escapeHtml(header.input)]);
  if (header.digest) facts.push(['meta-digest', header.digest.of === 'manifest' ? 'manifest digest' : 'index.json digest', escapeHtml(header.digest.digest)]);
  if (header.generatedAt !== undefined) facts.push(['meta-time', 'generated', `<time datetime="${escapeHtml(header.generatedAt)}">${escapeHtml(header.generatedAt)}</time>`]);
  if (header.version !== undefined) facts.push(['meta-version', 'by', `ocikit ${escapeHtml(header.version)}`]);
  if (facts.length === 0) return '';
  return `<dl id="meta">${facts.map(([id, term, value]) => `<div><dt>${term}</dt><dd id="${id}">${value}</dd></div>`).join('')}</dl>`;
}

function pageHead(target: string, header: ReportHeader): string {
  const generator = header.version !== undefined ? `ocikit ${escapeHtml(header.version)} inspect --html` : 'ocikit inspect --html';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${generator}">
<title>ocikit inspect: ${escapeHtml(target)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>ocikit inspect</h1>
  ${headerFacts(header)}
  <p id="target"></p>
  <div id="stats"></div>
  <div id="verdict"></div>
</header>
<nav>
  <input id="search" type="search" placeholder="Search tags, digests, platforms, artifact types, annotations…" aria-label="Search" autocomplete="off">
  <span id="matches"></span>
  <button id="expand" type="button">Expand all</button>
  <button id="collapse" type="button">Collapse all</button>
</nav>
<main>
  <ul id="tree" class="tree"></ul>
  <section id="findings" hidden>
    <h2>Verification findings</h2>
    <table><thead><tr><th>severity</th><th>code</th><th>object</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script id="report" type="application/json">`;
}

/**
 * JSON that cannot end its script element or be read as markup: `<`, `>`, `&`
 * and line separators escaped. Each character is escaped on its own, so the
 * JSON can be escaped piece by piece.
 */
function escapeForScript(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function pageTail(): string {
  return `</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 16px 24px 8px; border-bottom: 1px solid var(--line); background: var(--panel); }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
#meta { display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0 0 6px; font-size: 12px; }
#meta div { display: flex; gap: 6px; }
#meta dt { color: var(--muted); }
#meta dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
#target { margin: 0 0 8px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); word-break: break-all; }
#stats { display: flex; flex-wrap: wrap; gap: 6px; }
.stat { background: var(--bg); border: 1px solid var(--line); border-radius: 12px; padding: 1px 10px; font-size: 12px; }
.stat b { font-weight: 600; }
#verdict { margin-top: 8px; font-weight: 600; }
#verdict.ok { color: var(--ok); } #verdict.bad { color: var(--bad); }
nav { position: sticky; top: 0; z-index: 1; display: flex; gap: 8px; align-items: center; padding: 8px 24px; background: var(--bg); border-bottom: 1px solid var(--line); }
#search { flex: 1; max-width: 560px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
#matches { color: var(--muted); font-size: 12px; min-width: 90px; }
button { font: inherit; font-size: 12px; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); cursor: pointer; }
main { padding: 12px 24px 40px; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 20px; }
ul.tree { padding-left: 0; }
/* Rows and summaries are blocks, not list items: Chromium renumbers list items one at a time
   when rows are hidden, which made the search quadratic (2,000 rows: 25 s; 12,500: minutes). */
li.node { display: block; margin: 2px 0; }
li.node[hidden], li.group[hidden] { display: none; }
summary { display: block; list-style: none; cursor: pointer; padding: 2px 4px; border-radius: 4px; }
summary::-webkit-details-marker { display: none; }
summary::before { content: "\\25B8"; display: inline-block; width: 1em; color: var(--muted); }
details[open] > summary::before { content: "\\25BE"; }
summary:hover { background: var(--panel); }
li.match > details > summary { background: #fff8c5; }
.label { font-weight: 600; margin-right: 6px; }
.kind { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; margin-right: 6px; border: 1px solid var(--line); text-transform: uppercase; letter-spacing: .03em; }
.badge-index { background: #ddf4ff; } .badge-image { background: #dafbe1; } .badge-artifact { background: #fbefff; } .badge-unreadable { background: #ffebe9; }
.digest { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); }
.size, .desc { margin-left: 8px; color: var(--muted); }
.status { margin-left: 8px; font-size: 12px; font-weight: 600; }
.status.ok { color: var(--ok); } .status.bad { color: var(--bad); } .status.warn { color: var(--warn); } .status.neutral { color: var(--muted); }
.body { margin: 2px 0 6px 22px; padding-left: 10px; border-left: 2px solid var(--line); }
.group > .group-title { font-size: 12px; color: var(--muted); margin: 6px 0 2px; }
table { border-collapse: collapse; margin: 4px 0; font-size: 12px; }
th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
.problem { color: var(--bad); }
.row-findings { margin: 2px 0; font-size: 12px; }
.row-findings a { margin-right: 8px; }
a { color: var(--accent); }
.focus > details > summary, tr.focus { outline: 2px solid var(--accent); outline-offset: -1px; }
.sev-error { color: var(--bad); font-weight: 600; } .sev-warning { color: var(--warn); font-weight: 600; } .sev-note { color: var(--muted); }
.sig { margin-left: 8px; font-size: 12px; font-weight: 600; }
.sig-valid { color: var(--ok); } .sig-bad { color: var(--bad); } .sig-unchecked { color: var(--warn); }
`;

/** The page's script: plain ES2017, no modules, no network, no innerHTML with data. */
const SCRIPT = `
(function () {
  'use strict';
  var report = JSON.parse(document.getElementById('report').textContent);
  var findings = report.verification ? report.verification.findings : [];
  var records = [];
  // Rows get ids in the order they are drawn (row-1, row-2...), findings by their place in the report (finding-0...).
  var rowCount = 0;
  // For each finding, the ids of the rows it is about (filled as the tree is drawn).
  var rowsOfFinding = [];
  // Each referrer group with its rows, so the search hides an emptied group without querying the page.
  var referrerGroups = [];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function pl(n, one, many) { return n + ' ' + (n === 1 ? one : many); }
  function isBad(s) { return !!s && STATUS[s] !== undefined && STATUS[s][1] === 'bad'; }
  function bytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'], v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + ' ' + units[i];
  }
  // Only digests and sizes are checked (and documents against the spec): a pass always names what was checked.
  var STATUS = {
    ok: ['digest verified', 'ok'], corrupt: ['corrupt', 'bad'], missing: ['missing', 'bad'], invalid: ['invalid', 'bad'],
    unreadable: ['unreadable', 'bad'], unverifiable: ['not checked', 'warn'], 'absent-ok': ['absent (expected)', 'neutral']
  };
  function status(s) {
    if (!s) return null;
    var d = STATUS[s] || [s, 'neutral'];
    var e = el('span', 'status ' + d[1], (d[1] === 'ok' ? '\\u2713 ' : d[1] === 'bad' ? '\\u2717 ' : '') + d[0]);
    e.setAttribute('data-status', s);
    return e;
  }
  // A row's one verdict, for itself and everything below it (rollup.ts): never a pass beside a failure.
  function rowBadge(n) {
    var r = n.rollup;
    if (!r) return status(n.status);
    var text, cls;
    if (r.status === 'error') {
      cls = 'bad';
      var errors = r.errors || 1;
      text = isBad(n.status) ? 'manifest ' + STATUS[n.status][0] + (errors > 1 ? '; ' + pl(errors, 'blob', 'blobs') + ' damaged or missing in all' : '')
        : pl(errors, 'blob', 'blobs') + ' damaged or missing';
      text = '\u2717 ' + text;
    } else if (r.status === 'warning') {
      cls = 'warn';
      text = '! ' + pl(r.warnings || 1, 'warning', 'warnings');
    } else {
      cls = 'ok';
      text = '\u2713 ' + passText(n);
    }
    var e = el('span', 'status ' + cls, text);
    e.setAttribute('data-rollup', r.status);
    e.title = 'this row and everything below it (config, layers, index members, referrers)';
    return e;
  }
  // What a pass means. A signature's digest matching says nothing of who signed it: a signature row
  // says whether its signature was checked (on the image it signs), never reads as a cryptographic pass.
  function passText(n) {
    var what = 'digests verified';
    var checked = sigOfManifest[n.digest];
    if (checked) what += '; ' + SIG[checked.verdict][0];
    else if (n.artifact && n.artifact.category === 'signature') what += '; signature not checked';
    return what;
  }
  // Each verdict's words and class: a signature is "valid", a word no digest check uses.
  var SIG = {
    valid: ['signature valid', 'sig-valid', '\u2713 '],
    invalid: ['signature INVALID', 'sig-bad', '\u2717 '],
    'wrong-subject': ['signature of ANOTHER image', 'sig-bad', '\u2717 '],
    unverified: ['signature not checked', 'sig-unchecked', '? ']
  };
  var SIG_KIND = { 'cosign-signature': 'cosign signature', 'cosign-attestation': 'attestation', 'sigstore-bundle': 'Sigstore bundle' };
  // The check of each signature manifest, by its digest, so that its own row can say how it went.
  var sigOfManifest = Object.create(null);
  function signer(c) {
    var s = c.signer || {};
    if (s.identity) return s.identity + (s.issuer ? ' (issuer ' + s.issuer + ')' : '');
    if (s.keyFingerprint) return 'key ' + s.keyFingerprint + (s.keySource ? ' (' + s.keySource + ')' : '');
    return '';
  }
  // A row's signatures in one badge: the worst verdict first, a valid one named by its signer.
  function sigBadge(n) {
    var list = n.signatures || [];
    if (list.length === 0) return null;
    var order = ['wrong-subject', 'invalid', 'unverified', 'valid'];
    var worst = order.filter(function (v) { return list.some(function (c) { return c.verdict === v; }); })[0];
    var d = SIG[worst];
    var valid = list.filter(function (c) { return c.verdict === 'valid'; });
    var text = d[2] + d[0] + (worst === 'valid' ? ' (' + signer(valid[0]) + (valid.length > 1 ? ' and ' + (valid.length - 1) + ' more' : '') + ')' : '');
    var e = el('span', 'sig ' + d[1], text);
    e.setAttribute('data-signature', worst);
    return e;
  }
  function sigTable(n) {
    var list = n.signatures || [];
    if (list.length === 0) return null;
    var wrap = el('div', 'signatures');
    wrap.appendChild(el('div', 'group-title', 'signatures and attestations (' + list.length + ')'));
    var t = el('table');
    list.forEach(function (c) {
      var tr = el('tr');
      tr.setAttribute('data-verdict', c.verdict);
      var d = SIG[c.verdict] || [c.verdict, 'sig-unchecked', ''];
      tr.appendChild(el('td', 'sig ' + d[1], d[2] + d[0]));
      tr.appendChild(el('td', null, (SIG_KIND[c.kind] || c.kind) + (c.predicateType ? ' ' + c.predicateType : '')));
      tr.appendChild(el('td', 'mono', c.verdict === 'valid' ? signer(c) : (c.reason || '')));
      tr.appendChild(el('td', 'mono', (c.placement === 'tag' ? 'cosign tag manifest ' : 'referrer ') + c.manifest));
      t.appendChild(tr);
    });
    wrap.appendChild(t);
    return wrap;
  }
  function link(id, text, cls) {
    var a = el('a', cls, text);
    a.setAttribute('href', '#' + id);
    a.addEventListener('click', function (ev) { ev.preventDefault(); go(id); });
    return a;
  }
  function pairsTable(title, map) {
    var keys = Object.keys(map || {}).sort();
    if (keys.length === 0) return null;
    var wrap = el('div', 'pairs');
    wrap.appendChild(el('div', 'group-title', title));
    var t = el('table');
    keys.forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', k));
      tr.appendChild(el('td', 'mono', map[k]));
      t.appendChild(tr);
    });
    wrap.appendChild(t);
    return wrap;
  }
  function describe(n) {
    if (n.kind === 'index') return pl((n.children || []).length, 'manifest', 'manifests');
    if (n.kind === 'image') return pl(n.layerCount || 0, 'layer', 'layers') + ', ' + bytes(n.layersSize || 0) + (n.config && n.config.created ? ', created ' + n.config.created : '');
    if (n.kind === 'artifact' && n.artifact) {
      var a = n.artifact;
      if (a.category === 'sbom') return 'SBOM' + (a.format ? ' ' + a.format : '') + ', ' + bytes(a.payloadSize);
      if (a.category === 'signature') return 'signature' + (a.format ? ' (' + a.format + ')' : '') + ', ' + bytes(a.payloadSize);
      if (a.category === 'attestation') return 'attestation' + (a.predicateType ? ' ' + a.predicateType : '') + ', ' + bytes(a.payloadSize);
      return 'artifact, ' + bytes(a.payloadSize);
    }
    return n.problem ? 'unreadable' : '';
  }
  function searchText(n, label) {
    var parts = [label, n.digest, n.mediaType, n.kind, n.platform, n.artifactType, describe(n)];
    if (n.artifact) parts.push(n.artifact.category, n.artifact.format, n.artifact.predicateType);
    [n.annotations, n.config && n.config.labels].forEach(function (m) {
      Object.keys(m || {}).forEach(function (k) { parts.push(k + '=' + m[k]); });
    });
    if (n.config) parts.push(n.config.digest);
    (n.layers || []).forEach(function (l) { parts.push(l.digest, l.title); });
    (n.signatures || []).forEach(function (c) { parts.push(SIG[c.verdict] && SIG[c.verdict][0], signer(c), c.predicateType); });
    // A search for a finding's code also finds the rows it is about.
    (n.findings || []).forEach(function (i) { if (findings[i]) parts.push(findings[i].code); });
    return parts.filter(function (p) { return typeof p === 'string' && p; }).join(' ').toLowerCase();
  }

  function renderNode(n, label, depth, parentRecord) {
    var li = el('li', 'node kind-' + n.kind);
    li.id = 'row-' + (++rowCount);
    li.setAttribute('data-digest', n.digest);
    li.setAttribute('data-kind', n.kind);
    if (n.rollup) li.setAttribute('data-rollup', n.rollup.status);
    var rec = { li: li, text: searchText(n, label), children: [], details: null };
    if (parentRecord) parentRecord.children.push(rec); else records.push(rec);
    var details = el('details');
    rec.details = details;
    details.open = openByDefault(depth);
    var summary = el('summary');
    if (label) summary.appendChild(el('span', 'label', label));
    summary.appendChild(el('span', 'kind badge-' + n.kind, n.kind === 'artifact' && n.artifact ? n.artifact.category : n.kind));
    summary.appendChild(el('span', 'digest', n.digest));
    summary.appendChild(el('span', 'desc', describe(n)));
    var badge = rowBadge(n);
    if (badge) summary.appendChild(badge);
    var sb = sigBadge(n);
    if (sb) summary.appendChild(sb);
    details.appendChild(summary);

    var body = el('div', 'body');
    if (n.findings && n.findings.length) {
      var fl = el('div', 'row-findings');
      fl.appendChild(document.createTextNode('findings: '));
      n.findings.forEach(function (i) {
        var f = findings[i];
        if (!f) return;
        (rowsOfFinding[i] = rowsOfFinding[i] || []).push(li.id);
        fl.appendChild(link('finding-' + i, f.severity + ' ' + f.code, 'sev-' + f.severity));
      });
      body.appendChild(fl);
    }
    if (n.problem) body.appendChild(el('div', 'problem', 'problem: ' + n.problem));
    if (n.cycle) body.appendChild(el('div', 'problem', 'cycle: already shown above on this branch'));
    var facts = el('table', 'facts');
    function fact(k, v, node) {
      if (v === undefined || v === null || v === '') return;
      var tr = el('tr'); tr.appendChild(el('th', null, k));
      var td = el('td', 'mono', v); if (node) td.appendChild(node);
      tr.appendChild(td); facts.appendChild(tr);
    }
    fact('media type', n.mediaType);
    fact('manifest', bytes(n.size), status(n.status));
    fact('artifact type', n.artifactType);
    if (n.artifact && n.artifact.signedDigest) fact('signs', n.artifact.signedDigest);
    if (n.config) {
      fact('config', n.config.digest + ' (' + bytes(n.config.size) + ')', status(n.config.status));
      fact('created', n.config.created);
      if (n.config.problem) fact('config problem', n.config.problem);
    }
    body.appendChild(facts);
    var labels = pairsTable('labels', n.config && n.config.labels);
    if (labels) body.appendChild(labels);
    var ann = pairsTable('annotations', n.annotations);
    if (ann) body.appendChild(ann);
    var sigs = sigTable(n);
    if (sigs) body.appendChild(sigs);
    if (n.layers && n.layers.length) {
      var lw = el('div', 'layers');
      lw.appendChild(el('div', 'group-title', (n.kind === 'image' ? 'layers' : 'blobs') + ' (' + n.layers.length + ', ' + bytes(n.layersSize || 0) + ')'));
      var lt = el('table');
      n.layers.forEach(function (l) {
        var tr = el('tr');
        tr.appendChild(el('td', 'mono', l.digest));
        tr.appendChild(el('td', null, l.mediaType));
        tr.appendChild(el('td', null, bytes(l.size)));
        tr.appendChild(el('td', null, l.title || ''));
        var td = el('td'); var s = status(l.status); if (s) td.appendChild(s); tr.appendChild(td);
        lt.appendChild(tr);
      });
      lw.appendChild(lt);
      body.appendChild(lw);
    }
    if (n.children && n.children.length) {
      var ul = el('ul');
      n.children.forEach(function (c) { ul.appendChild(renderNode(c, c.platform || '', depth + 1, rec)); });
      body.appendChild(ul);
    }
    if (n.referrers && n.referrers.length) {
      var groups = Object.create(null); // keyed by artifact type: "constructor" is a type, not a member
      var order = [];
      n.referrers.forEach(function (r) {
        var key = r.artifactType || r.mediaType;
        if (!groups[key]) { groups[key] = []; order.push(key); }
        groups[key].push(r);
      });
      order.forEach(function (key) {
        var g = el('div', 'group referrers');
        g.appendChild(el('div', 'group-title', 'referrers: ' + key));
        var gu = el('ul');
        var entry = { el: g, lis: [] };
        groups[key].forEach(function (r) { var li = renderNode(r, '', depth + 1, rec); entry.lis.push(li); gu.appendChild(li); });
        referrerGroups.push(entry);
        g.appendChild(gu);
        body.appendChild(g);
      });
    }
    details.appendChild(body);
    li.appendChild(details);
    return li;
  }

  var total = 0;
  (function count(list) {
    list.forEach(function (n) {
      total++;
      // Before any row is drawn: a cosign tag's signature manifest may be a root drawn before its image.
      (n.signatures || []).forEach(function (c) { sigOfManifest[c.manifest] = c; });
      count(n.children || []); count(n.referrers || []);
    });
  })(report.roots.map(function (r) { return r.node; }));
  function openByDefault(depth) { return total <= 400 || depth < 1; }

  document.getElementById('target').textContent = report.target;
  var s = report.summary, stats = document.getElementById('stats');
  [['tag', 'tags', s.tags], ['image', 'images', s.images], ['index', 'indexes', s.indexes], ['artifact', 'artifacts', s.artifacts],
   ['manifest', 'manifests', s.manifests], ['blob', 'blobs', s.blobs], ['in total', 'in total', bytes(s.totalSize)]].forEach(function (p) {
    var e = el('span', 'stat'); e.appendChild(el('b', null, p[2])); e.appendChild(document.createTextNode(' ' + (p[2] === 1 ? p[0] : p[1]))); stats.appendChild(e);
  });
  if (s.signatures) {
    // Signatures checked: how many got each verdict, in the verdict's own words.
    ['valid', 'invalid', 'wrong-subject', 'unverified'].forEach(function (v) {
      var k = s.signatures[v] || 0;
      if (k === 0 && v !== 'valid') return;
      var e = el('span', 'stat ' + SIG[v][1]); e.setAttribute('data-signatures', v);
      e.appendChild(el('b', null, k)); e.appendChild(document.createTextNode(' ' + SIG[v][0].replace('signature', k === 1 ? 'signature' : 'signatures')));
      stats.appendChild(e);
    });
  }
  var verdict = document.getElementById('verdict');
  if (report.verification) {
    var v = report.verification;
    verdict.className = v.ok ? 'ok' : 'bad';
    verdict.textContent = (v.ok ? '\\u2713 verification passed: ' : '\\u2717 verification failed: ') +
      pl(v.errors, 'error', 'errors') + ', ' + pl(v.warnings, 'warning', 'warnings') + ', ' + pl(v.notes, 'note', 'notes') + '; ' +
      pl(v.blobs, 'blob', 'blobs') + ' (' + bytes(v.bytes) + ') match their digests and sizes. ' +
      (s.signatures ? 'Signatures are checked separately: see each image.' : 'Signatures are not checked.');
  } else {
    verdict.textContent = 'digests not checked (no verification was run)';
  }

  var tree = document.getElementById('tree');
  report.roots.forEach(function (r) {
    var label = r.tags.length ? r.tags.join(', ') : (r.orphan ? '(untagged, subject not present)' : '(untagged)');
    tree.appendChild(renderNode(r.node, label, 0, null));
  });
  if (report.roots.length === 0) tree.appendChild(el('li', 'empty', '(empty)'));

  // The findings, after the tree so that each can link to the rows it is about.
  var findingRecords = [];
  var findingsSection = document.getElementById('findings');
  if (findings.length) {
    findingsSection.hidden = false;
    var tbody = findingsSection.querySelector('tbody');
    findings.forEach(function (f, i) {
      var tr = el('tr');
      tr.id = 'finding-' + i;
      tr.setAttribute('data-code', f.code);
      tr.appendChild(el('td', 'sev-' + f.severity, f.severity));
      tr.appendChild(el('td', null, f.code));
      var where = el('td', 'mono');
      var rows = rowsOfFinding[i] || [];
      // The first row that shows the object; a blob shared by thousands of images links a few, the search finds the rest.
      if (rows.length) where.appendChild(link(rows[0], f.object, 'to-row'));
      else where.appendChild(document.createTextNode(f.object));
      if (f.location) where.appendChild(document.createTextNode(' (' + f.location + ')'));
      if (rows.length > 1) {
        where.appendChild(document.createTextNode(' also in '));
        rows.slice(1, 10).forEach(function (id) { where.appendChild(link(id, id.replace('row-', '#'), 'to-row')); where.appendChild(document.createTextNode(' ')); });
        if (rows.length > 10) where.appendChild(document.createTextNode('and ' + (rows.length - 10) + ' more rows'));
      }
      tr.appendChild(where);
      tr.appendChild(el('td', null, f.message));
      tbody.appendChild(tr);
      findingRecords.push({ tr: tr, text: [f.severity, f.code, f.object, f.location, f.message].filter(Boolean).join(' ').toLowerCase() });
    });
  }

  // The search is one pass over the rows: each row's text was lowercased once when it was built,
  // and the page is only written where a row's state changes (every write costs the browser work).
  var matches = document.getElementById('matches');
  function filter(rec, q) {
    var own = q === '' || rec.text.indexOf(q) >= 0;
    var below = false;
    rec.children.forEach(function (c) { if (filter(c, q)) below = true; });
    var visible = own || below;
    if (rec.li.hidden !== !visible) rec.li.hidden = !visible;
    var marked = q !== '' && own;
    if (rec.li.classList.contains('match') !== marked) rec.li.classList.toggle('match', marked);
    if (q !== '' && below && !rec.details.open) rec.details.open = true;
    if (marked) hits++;
    return visible;
  }
  var hits = 0;
  function applySearch() {
    var q = document.getElementById('search').value.trim().toLowerCase();
    hits = 0;
    records.forEach(function (r) { filter(r, q); });
    referrerGroups.forEach(function (g) {
      var hide = !g.lis.some(function (li) { return !li.hidden; });
      if (g.el.hidden !== hide) g.el.hidden = hide;
    });
    // Findings are searched too (code, object, message), in the same single pass.
    var shownFindings = 0;
    findingRecords.forEach(function (f) {
      var show = q === '' || f.text.indexOf(q) >= 0;
      if (f.tr.hidden !== !show) f.tr.hidden = !show;
      if (show) shownFindings++;
      if (show && q !== '') hits++;
    });
    if (findingRecords.length) {
      var hideSection = shownFindings === 0;
      if (findingsSection.hidden !== hideSection) findingsSection.hidden = hideSection;
    }
    matches.textContent = q === '' ? '' : hits + (hits === 1 ? ' match' : ' matches');
  }
  // A big report is searched once typing pauses, not on every key.
  var pending = null;
  document.getElementById('search').addEventListener('input', function () {
    if (total <= 2000) return applySearch();
    clearTimeout(pending);
    pending = setTimeout(applySearch, 150);
  });
  function setAll(open) { document.querySelectorAll('#tree details').forEach(function (d) { d.open = open; }); }
  document.getElementById('expand').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse').addEventListener('click', function () { setAll(false); });

  // Go to a row or a finding: clear a search that hides it, open every row on the path to it
  // (and the row itself, to show the blob at fault), scroll it into view and mark it.
  var focused = null;
  function go(id) {
    var target = document.getElementById(id);
    if (!target) return;
    if (target.closest('[hidden]')) { document.getElementById('search').value = ''; applySearch(); }
    for (var p = target.parentElement; p; p = p.parentElement) if (p.tagName === 'DETAILS') p.open = true;
    var own = target.querySelector(':scope > details');
    if (own) own.open = true;
    if (focused) focused.classList.remove('focus');
    focused = target;
    target.classList.add('focus');
    try { history.replaceState(null, '', '#' + id); } catch (e) { /* a page opened from a file may refuse; the view still moves */ }
    target.scrollIntoView({ block: 'center' });
  }
  window.addEventListener('hashchange', function () { go(location.hash.slice(1)); });
  if (location.hash) go(location.hash.slice(1));
  document.body.setAttribute('data-ready', 'true');
})();
`;
